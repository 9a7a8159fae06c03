package bridge

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDecodeResult feeds arbitrary bytes to the decoder of hearthStorage's
// results: it must fail cleanly, never panic or allocate past what the
// buffer could hold, and what it accepts must be the shape it promises.
func FuzzDecodeResult(f *testing.F) {
	var b []byte
	b = append(b, flagCommitRequired)
	b = binary.LittleEndian.AppendUint64(b, 2)
	b = binary.LittleEndian.AppendUint64(b, math.MaxUint64)
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = append(b, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b')
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = append(b, tagText, 2, 0, 0, 0, 'h', 'i', tagBlob, 0, 0, 0, 0)
	f.Add(b)
	f.Add(make([]byte, 21))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeResult(b)
		if err != nil {
			return
		}
		for _, row := range res.Rows {
			if len(row) != len(res.Columns) {
				t.Fatalf("row of %d values for %d columns", len(row), len(res.Columns))
			}
			for _, v := range row {
				switch v.(type) {
				case nil, int64, float64, string, []byte:
				default:
					t.Fatalf("value of type %T", v)
				}
			}
		}
	})
}
