package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The binary encoding of statement parameters and results that crosses the
// bridge in one Uint8Array per direction (see storage_js.go for the format,
// js/storage/codec.js for the JS side). It has no build tag so that it is
// tested natively too.

const (
	tagNull    = 0
	tagInteger = 1
	tagReal    = 2
	tagText    = 3
	tagBlob    = 4
)

const flagCommitRequired = 1

// Param is one statement parameter. Name is empty for a positional parameter
// (bound to index position+1) or the name without its prefix character
// (bound to :Name, @Name or $Name). Value is nil, int64, float64, string
// (TEXT) or []byte (BLOB, nil meaning a zero-length blob, not NULL).
type Param struct {
	Name  string
	Value any
}

// Result is everything one statement execution returned.
type Result struct {
	// CommitRequired: the statement wrote outside a transaction; SQLite has
	// committed it in memory and Storage.Commit must be called to make it durable.
	CommitRequired bool
	// Changes and LastInsertID are sqlite3_changes and last_insert_rowid after
	// a write; zero after a read.
	Changes      int64
	LastInsertID int64
	Columns      []string
	// Rows holds nil, int64, float64, string (TEXT) or []byte (BLOB).
	Rows [][]any
}

var errShortBuffer = errors.New("decode storage result: buffer ends inside a value")

// encodeParams encodes params; it returns nil for no params.
func encodeParams(params []Param) ([]byte, error) {
	if len(params) == 0 {
		return nil, nil
	}
	size := 4
	for _, p := range params {
		size += 4 + len(p.Name) + 1 + 8
		switch v := p.Value.(type) {
		case string:
			size += len(v)
		case []byte:
			size += len(v)
		}
	}
	b := make([]byte, 0, size)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(params)))
	for i, p := range params {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Name)))
		b = append(b, p.Name...)
		switch v := p.Value.(type) {
		case nil:
			b = append(b, tagNull)
		case int64:
			b = append(b, tagInteger)
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		case float64:
			b = append(b, tagReal)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case string:
			b = append(b, tagText)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, tagBlob)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		default:
			return nil, fmt.Errorf("encode parameter %d: unsupported type %T", i+1, p.Value)
		}
	}
	return b, nil
}

// decodeResult decodes a result buffer.
func decodeResult(b []byte) (*Result, error) {
	d := decoder{b: b}
	res := &Result{}
	res.CommitRequired = d.u8()&flagCommitRequired != 0
	res.Changes = int64(d.u64())
	res.LastInsertID = int64(d.u64())
	ncols := int(d.u32())
	if d.err == nil && ncols > len(d.b) {
		d.err = errShortBuffer
	}
	if d.err != nil {
		return nil, d.err
	}
	res.Columns = make([]string, ncols)
	for i := range res.Columns {
		res.Columns[i] = string(d.bytes(int(d.u32())))
	}
	nrows := int(d.u32())
	// Every value takes at least its tag byte, so rows × columns cannot pass
	// what is left; a statement without columns has no rows. Checked before
	// allocating: a corrupt count must not ask for gigabytes (found by fuzzing).
	if d.err == nil && (ncols == 0 && nrows != 0 || ncols > 0 && nrows > len(d.b)/ncols) {
		d.err = errShortBuffer
	}
	if d.err != nil {
		return nil, d.err
	}
	res.Rows = make([][]any, nrows)
	for r := range res.Rows {
		row := make([]any, ncols)
		for c := range row {
			row[c] = d.value()
		}
		res.Rows[r] = row
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("decode storage result: trailing bytes")
	}
	return res, nil
}

// decoder reads from b, consuming it; after the first error every read
// returns zero values and err stays set.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errShortBuffer
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// bytes returns a copy, so values never alias the decode buffer.
func (d *decoder) bytes(n int) []byte {
	v := d.take(n)
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, n), v...)
}

func (d *decoder) value() any {
	switch tag := d.u8(); tag {
	case tagNull:
		return nil
	case tagInteger:
		return int64(d.u64())
	case tagReal:
		return math.Float64frombits(d.u64())
	case tagText:
		return string(d.take(int(d.u32())))
	case tagBlob:
		b := d.bytes(int(d.u32()))
		if b == nil {
			b = []byte{}
		}
		return b
	default:
		if d.err == nil {
			d.err = fmt.Errorf("decode storage result: unknown value tag %d", tag)
		}
		return nil
	}
}
