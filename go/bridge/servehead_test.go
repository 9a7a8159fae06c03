package bridge

import (
	"strconv"
	"strings"
	"testing"
)

// testHead is a request head as tests write it (decodeRequest reads its lines).
type testHead struct {
	method, url, peer string
	headers           [][2]string
}

func (h testHead) String() string {
	lines := []string{h.method, h.url, h.peer}
	for _, kv := range h.headers {
		lines = append(lines, kv[0], kv[1])
	}
	return strings.Join(lines, "\n")
}

// testAnswer is a response head as encodeResponseHead writes it.
type testAnswer struct {
	status  int
	headers [][2]string
}

func parseAnswerHead(t testing.TB, head string) testAnswer {
	t.Helper()
	lines := strings.Split(head, "\n")
	status, err := strconv.Atoi(lines[0])
	if err != nil || len(lines)%2 == 0 {
		t.Fatalf("malformed response head %q", head)
	}
	a := testAnswer{status: status}
	for i := 1; i < len(lines); i += 2 {
		a.headers = append(a.headers, [2]string{lines[i], lines[i+1]})
	}
	return a
}
