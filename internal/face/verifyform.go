package face

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// setVerifyForm writes the multipart/form-data body of CreateLivenessWithVerifySession. The text
// parts and the boundaries are written out; the image is read where it lies, so a 6 MB image is
// not copied into a buffer grown by doubling (what runtime.SetMultipartFormData does, about 2.5
// times the image in allocations). The parts are those SetMultipartFormData writes: text/plain
// fields and a file part with the sniffed type and a filename, which the service requires.
func setVerifyForm(r *policy.Request, c createContent, image []byte) error {
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	fields := [][2]string{
		{"livenessOperationMode", c.LivenessOperationMode},
		{"enableSessionImage", strconv.FormatBool(c.EnableSessionImage)},
	}
	if c.DeviceCorrelationID != "" {
		fields = append(fields, [2]string{"deviceCorrelationId", c.DeviceCorrelationID})
	}
	if c.AuthTokenTimeToLiveInSeconds != 0 {
		fields = append(fields, [2]string{"authTokenTimeToLiveInSeconds", strconv.Itoa(c.AuthTokenTimeToLiveInSeconds)})
	}
	for _, f := range fields {
		// The names are the constants above: nothing in them needs quoting.
		p, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {`form-data; name="` + f[0] + `"`},
			"Content-Type":        {"text/plain"},
		})
		if err != nil {
			return err
		}
		if _, err := io.WriteString(p, f[1]); err != nil {
			return err
		}
	}
	if _, err := w.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="verifyImage"; filename="verify-image"`},
		"Content-Type":        {imageContentType(image)},
	}); err != nil {
		return err
	}
	headLen := head.Len()
	if err := w.Close(); err != nil { // the closing boundary, which follows the image
		return err
	}
	b := head.Bytes()
	return r.SetBody(&concatReader{parts: [][]byte{b[:headLen], image, b[headLen:]}}, w.FormDataContentType())
}

// concatReader reads byte slices one after another, and seeks over them, as one body: azcore
// seeks to measure a body and to rewind it for a retry.
type concatReader struct {
	parts [][]byte
	off   int64
}

func (c *concatReader) size() int64 {
	var n int64
	for _, p := range c.parts {
		n += int64(len(p))
	}
	return n
}

func (c *concatReader) Read(b []byte) (int, error) {
	n, skip := 0, c.off
	for _, p := range c.parts {
		if skip >= int64(len(p)) {
			skip -= int64(len(p))
			continue
		}
		n += copy(b[n:], p[skip:])
		skip = 0
		if n == len(b) {
			break
		}
	}
	c.off += int64(n)
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *concatReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size()
	case io.SeekStart:
	default:
		return 0, errors.New("face: concatReader.Seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("face: concatReader.Seek: negative position")
	}
	c.off = offset
	return offset, nil
}

func (c *concatReader) Close() error { return nil }
