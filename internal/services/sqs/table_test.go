package sqs

import (
	"strings"
	"testing"
)

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has an IAM action, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		action, ok := operations[name]
		if !ok || action != "sqs:"+strings.TrimSuffix(name, "Batch") {
			t.Errorf("operation %s: action %q", name, action)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}

// TestMD5OfMessageAttributes: the digest of the example in SQS's
// developer guide, and the encoding spelled out byte by byte.
func TestMD5OfMessageAttributes(t *testing.T) {
	if got := md5Attrs(map[string]MessageAttribute{"SellerName": {DataType: "String", StringValue: "Example Store"}}); got != "cd28f3b68aeee4b2eac9c66f2f694b58" {
		t.Fatalf("md5Attrs of the guide's example = %s", got)
	}
	// name "a" (len 1), type "String" (len 6), transport 1, value "b" (len 1).
	got := md5Attrs(map[string]MessageAttribute{"a": {DataType: "String", StringValue: "b"}})
	want := md5Hex("\x00\x00\x00\x01a\x00\x00\x00\x06String\x01\x00\x00\x00\x01b")
	if got != want {
		t.Fatalf("md5Attrs = %s, want %s", got, want)
	}
	bin := md5Attrs(map[string]MessageAttribute{"z": {DataType: "Binary", BinaryValue: []byte{9}}, "a": {DataType: "Number", StringValue: "1"}})
	wantBin := md5Hex("\x00\x00\x00\x01a\x00\x00\x00\x06Number\x01\x00\x00\x00\x011" + "\x00\x00\x00\x01z\x00\x00\x00\x06Binary\x02\x00\x00\x00\x01\x09")
	if bin != wantBin {
		t.Fatalf("md5Attrs (sorted, binary) = %s, want %s", bin, wantBin)
	}
	if md5Attrs(nil) != "" {
		t.Fatal("md5Attrs of none is not empty")
	}
}
