package quicklink

import "testing"

// BenchmarkCompose is the link the end user opens, from the service's answer and a signed
// callback URL.
func BenchmarkCompose(b *testing.B) {
	id, err := ParseAnswer([]byte(answerOK))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Compose("https://liveness.face.azure.com", id, callback)
	}
}
