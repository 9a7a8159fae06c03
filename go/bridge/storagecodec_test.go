package bridge

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestEncodeParamsLayout(t *testing.T) {
	b, err := encodeParams([]Param{{Value: int64(math.MinInt64)}, {Name: "n", Value: "é"}, {Value: nil}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{3, 0, 0, 0}
	want = append(want, 0, 0, 0, 0, tagInteger, 0, 0, 0, 0, 0, 0, 0, 0x80)
	want = append(want, 1, 0, 0, 0, 'n', tagText, 2, 0, 0, 0, 0xc3, 0xa9)
	want = append(want, 0, 0, 0, 0, tagNull)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	if _, err := encodeParams([]Param{{Value: int32(1)}}); err == nil {
		t.Fatal("an int32 was encoded; only driver values are allowed")
	}
}

func TestDecodeResult(t *testing.T) {
	var b []byte
	b = append(b, flagCommitRequired)
	b = binary.LittleEndian.AppendUint64(b, 2)
	b = binary.LittleEndian.AppendUint64(b, math.MaxUint64) // -1
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = append(b, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b')
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, tagReal)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(math.Copysign(0, -1)))
	b = append(b, tagBlob, 0, 0, 0, 0)
	res, err := decodeResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if !res.CommitRequired || res.Changes != 2 || res.LastInsertID != -1 || len(res.Columns) != 2 || res.Columns[1] != "b" {
		t.Fatalf("header: %+v", res)
	}
	f, ok := res.Rows[0][0].(float64)
	if !ok || !math.Signbit(f) {
		t.Fatalf("cell 0: %#v, want -0", res.Rows[0][0])
	}
	if blob, ok := res.Rows[0][1].([]byte); !ok || blob == nil || len(blob) != 0 {
		t.Fatalf("cell 1: %#v, want an empty non-nil blob", res.Rows[0][1])
	}
	for cut := range len(b) {
		if _, err := decodeResult(b[:cut]); err == nil {
			t.Fatalf("a result cut at %d bytes decoded without error", cut)
		}
	}
}
