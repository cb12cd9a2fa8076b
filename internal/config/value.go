package config

import (
	"encoding/binary"
	"math"
	"strconv"
)

// Value is a typed option value, as passed in a SteamNetworkingConfigValue_t.
// Int holds Int32 and Int64 values; Ptr holds what a Ptr option points to
// (in Go, typically a callback func).
type Value struct {
	Type  DataType
	Int   int64
	Float float32
	Str   string
	Ptr   any
}

// Int32Value returns an Int32 value.
func Int32Value(v int32) Value { return Value{Type: Int32, Int: int64(v)} }

// Int64Value returns an Int64 value.
func Int64Value(v int64) Value { return Value{Type: Int64, Int: v} }

// FloatValue returns a Float value.
func FloatValue(v float32) Value { return Value{Type: Float, Float: v} }

// StringValue returns a String value.
func StringValue(v string) Value { return Value{Type: String, Str: v} }

// PtrValue returns a Ptr value.
func PtrValue(v any) Value { return Value{Type: Ptr, Ptr: v} }

// convert turns v into an option's type following GNS: Int64 → Int32 only if
// it fits; Float → integers rounded half up; String → numbers by scanf-like
// parsing of a leading number; numbers → String by printf; Ptr only from
// Ptr.
func convert(to DataType, v *Value) (Value, bool) {
	switch to {
	case Int32:
		switch v.Type {
		case Int32:
			return Int32Value(int32(v.Int)), true
		case Int64:
			if v.Int != int64(int32(v.Int)) {
				return Value{}, false
			}
			return Int32Value(int32(v.Int)), true
		case Float:
			return Int32Value(int32(saturate(roundHalfUp(v.Float), math.MinInt32, math.MaxInt32))), true
		case String:
			n, ok := scanInt(v.Str)
			return Int32Value(int32(saturate(float64(n), math.MinInt32, math.MaxInt32))), ok
		}
	case Int64:
		switch v.Type {
		case Int32, Int64:
			return Int64Value(v.Int), true
		case Float:
			return Int64Value(int64(saturate(roundHalfUp(v.Float), math.MinInt64, math.MaxInt64))), true
		case String:
			n, ok := scanInt(v.Str)
			return Int64Value(n), ok
		}
	case Float:
		switch v.Type {
		case Int32, Int64:
			return FloatValue(float32(v.Int)), true
		case Float:
			return FloatValue(v.Float), true
		case String:
			f, ok := scanFloat(v.Str)
			return FloatValue(f), ok
		}
	case String:
		switch v.Type {
		case Int32, Int64:
			return StringValue(strconv.FormatInt(v.Int, 10)), true
		case Float:
			return StringValue(strconv.FormatFloat(float64(v.Float), 'g', 6, 32)), true
		case String:
			return StringValue(v.Str), true
		}
	case Ptr:
		if v.Type == Ptr {
			return PtrValue(v.Ptr), true
		}
	}
	return Value{}, false
}

func roundHalfUp(f float32) float64 { return math.Floor(float64(f) + 0.5) }

func saturate(f, lo, hi float64) float64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f < lo:
		return lo
	case f > hi:
		return hi
	}
	return f
}

func skipSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f') {
		s = s[1:]
	}
	return s
}

// scanInt reads a leading decimal integer like scanf("%lld"), saturating on
// overflow.
func scanInt(s string) (int64, bool) {
	s = skipSpace(s)
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == digits {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil { // out of range: ParseInt saturates
		return n, true
	}
	return n, true
}

// scanFloat reads a leading decimal floating-point number like scanf("%f").
func scanFloat(s string) (float32, bool) {
	s = skipSpace(s)
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	mant := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
		mant++
	}
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
			mant++
		}
	}
	if mant == 0 {
		return 0, false
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		e := end + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		d := e
		for e < len(s) && s[e] >= '0' && s[e] <= '9' {
			e++
		}
		if e > d {
			end = e
		}
	}
	f, err := strconv.ParseFloat(s[:end], 32)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return float32(f), true
}

// clamp applies an option's range to a value already of its type.
func (o *Option) clamp(v *Value) {
	if !o.HasRange {
		return
	}
	switch v.Type {
	case Int32, Int64:
		v.Int = int64(saturate(float64(v.Int), o.Min, o.Max))
	case Float:
		if math.IsNaN(float64(v.Float)) {
			v.Float = float32(o.Min)
		}
		v.Float = float32(saturate(float64(v.Float), o.Min, o.Max))
	}
}

// Encode writes v the way GetConfigValue fills a caller's buffer: Int32 and
// Float as 4 bytes and Int64 as 8 (little-endian, as on every platform GNS
// runs on), String with a NUL terminator. It returns the size the value
// needs and OK, or BufferTooSmall when dst is shorter. Ptr values have no
// byte form here: the size is that of a pointer and the result BadValue.
func (v Value) Encode(dst []byte) (int, GetResult) {
	var need int
	switch v.Type {
	case Int32, Float:
		need = 4
	case Int64:
		need = 8
	case String:
		need = len(v.Str) + 1
	case Ptr:
		return 8, BadValue
	default:
		return 0, BadValue
	}
	if len(dst) < need {
		return need, BufferTooSmall
	}
	switch v.Type {
	case Int32:
		binary.LittleEndian.PutUint32(dst, uint32(int32(v.Int)))
	case Float:
		binary.LittleEndian.PutUint32(dst, math.Float32bits(v.Float))
	case Int64:
		binary.LittleEndian.PutUint64(dst, uint64(v.Int))
	case String:
		copy(dst, v.Str)
		dst[len(v.Str)] = 0
	}
	return need, OK
}
