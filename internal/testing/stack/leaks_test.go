package stack

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFindLeaksSeesAPlantedSecret keeps the scan honest: a secret anywhere in a line is found,
// and the report never prints it.
func TestFindLeaksSeesAPlantedSecret(t *testing.T) {
	named := Secrets{"tok-123": "Face auth token", "c2lnbmluZw": "callback sig"}
	haystack := []string{
		`handler: {"msg":"request","path":"/api/sessions"}`,
		`handler: {"msg":"oops","token":"tok-123"}`,
		`event x: {"data":{"url":"http://h/api/callback/1?sig=c2lnbmluZw"}}`,
	}
	got := FindLeaks(haystack, named)
	want := []string{
		`a Face auth token appears in handler: {"msg":"oops","token":"<Face auth token>"}`,
		`a callback sig appears in event x: {"data":{"url":"http://h/api/callback/1?sig=<callback sig>"}}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FindLeaks (-want +got):\n%s", diff)
	}
}
