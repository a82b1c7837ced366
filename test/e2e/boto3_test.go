package e2e

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// boto3Script runs every error case through boto3 and prints one JSON
// object per case. Expectations are written next to each call; the Go test
// checks them. parameter_validation is off so that out-of-range values
// reach the server instead of being refused by botocore.
const boto3Script = `
import json, sys, uuid
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

cfg = json.load(open(sys.argv[1]))
lam = boto3.client(
    "lambda", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
    aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"],
    config=Config(parameter_validation=False, retries={"total_max_attempts": 1},
                  connect_timeout=10, read_timeout=120))
model = lam.meta.service_model
ROLE = cfg["role"]


def zipfile(name):
    with open(cfg["zips"][name], "rb") as f:
        return f.read()


OK, OK2 = zipfile("ok"), zipfile("ok2")
rows = []


def emit(row):
    print(json.dumps(row), flush=True)


def expect(name, code, status, fn, **kw):
    row = {"name": name, "want_code": code, "want_status": status}
    try:
        out = fn(**kw)
        row["code"] = ""
        row["status"] = out["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        r = e.response
        meta = r.get("ResponseMetadata", {})
        row["code"] = r["Error"].get("Code", "")
        row["status"] = meta.get("HTTPStatusCode")
        row["message"] = r["Error"].get("Message", "")
        row["headers"] = {k.lower(): v for k, v in meta.get("HTTPHeaders", {}).items()}
        shape = model.shape_for_error_code(row["code"])
        if shape is not None:
            # botocore copies the modelled members of the exception shape to
            # the top of the response; the message member's casing differs
            # between shapes (Message / message).
            key = "Message" if "Message" in shape.members else "message"
            row["msg_key"] = key
            row["msg_key_present"] = bool(r.get(key))
            row["type"] = r.get("Type", "")
    except Exception as e:
        row["exception"] = "%s: %s" % (type(e).__name__, e)
    emit(row)


def fact(name, ok, detail=""):
    emit({"name": name, "fact": True, "ok": bool(ok), "detail": str(detail)})


def wait(waiter, name):
    lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


# Setup: b3-fn with versions 1 and 2.
FN = "b3-fn"
lam.create_function(FunctionName=FN, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": OK})
wait("function_active_v2", FN)
lam.publish_version(FunctionName=FN)
lam.update_function_code(FunctionName=FN, ZipFile=OK2)
wait("function_updated_v2", FN)
lam.publish_version(FunctionName=FN)
fact("setup: versions $LATEST,1,2",
     [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]] == ["$LATEST", "1", "2"])

# 404 ResourceNotFoundException.
M = "b3-missing"
NF = ("ResourceNotFoundException", 404)
expect("GetFunction missing", *NF, lam.get_function, FunctionName=M)
expect("GetFunction missing by ARN", *NF, lam.get_function, FunctionName=cfg["arn_prefix"] + M)
expect("GetFunctionConfiguration missing", *NF, lam.get_function_configuration, FunctionName=M)
expect("GetFunction missing version", *NF, lam.get_function, FunctionName=FN, Qualifier="99")
expect("GetFunction missing alias", *NF, lam.get_function, FunctionName=FN, Qualifier="nope")
expect("DeleteFunction missing", *NF, lam.delete_function, FunctionName=M)
expect("UpdateFunctionCode missing", *NF, lam.update_function_code, FunctionName=M, ZipFile=OK)
expect("UpdateFunctionConfiguration missing", *NF, lam.update_function_configuration, FunctionName=M, Description="x")
expect("PublishVersion missing", *NF, lam.publish_version, FunctionName=M)
expect("ListVersionsByFunction missing", *NF, lam.list_versions_by_function, FunctionName=M)
expect("GetAlias missing", *NF, lam.get_alias, FunctionName=FN, Name="nope")
expect("CreateAlias on missing version", *NF, lam.create_alias, FunctionName=FN, Name="to-99", FunctionVersion="99")
expect("GetPolicy without policy", *NF, lam.get_policy, FunctionName=FN)
expect("AddPermission missing", *NF, lam.add_permission, FunctionName=M, StatementId="s", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
expect("ListTags missing", *NF, lam.list_tags, Resource=cfg["arn_prefix"] + M)
expect("TagResource missing", *NF, lam.tag_resource, Resource=cfg["arn_prefix"] + M, Tags={"a": "b"})
expect("GetFunctionConcurrency missing", *NF, lam.get_function_concurrency, FunctionName=M)

# 409 ResourceConflictException.
CF = ("ResourceConflictException", 409)
expect("CreateFunction duplicate", *CF, lam.create_function, FunctionName=FN, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": OK})
lam.create_alias(FunctionName=FN, Name="live", FunctionVersion="1")
expect("CreateAlias duplicate", *CF, lam.create_alias, FunctionName=FN, Name="live", FunctionVersion="1")
lam.add_permission(FunctionName=FN, StatementId="p1", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
expect("AddPermission duplicate statement", *CF, lam.add_permission, FunctionName=FN, StatementId="p1", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")

# 412 PreconditionFailedException with a RevisionId that was current once.
old = lam.get_function_configuration(FunctionName=FN)["RevisionId"]
lam.update_function_configuration(FunctionName=FN, Description="moved on")
wait("function_updated_v2", FN)
PF = ("PreconditionFailedException", 412)
expect("UpdateFunctionConfiguration stale RevisionId", *PF, lam.update_function_configuration, FunctionName=FN, Description="x", RevisionId=old)
expect("UpdateFunctionCode stale RevisionId", *PF, lam.update_function_code, FunctionName=FN, ZipFile=OK, RevisionId=old)
expect("PublishVersion stale RevisionId", *PF, lam.publish_version, FunctionName=FN, RevisionId=old)
expect("AddPermission stale RevisionId", *PF, lam.add_permission, FunctionName=FN, StatementId="p2", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com", RevisionId=old)
expect("RemovePermission stale RevisionId", *PF, lam.remove_permission, FunctionName=FN, StatementId="p1", RevisionId=old)
alias_old = lam.get_alias(FunctionName=FN, Name="live")["RevisionId"]
lam.update_alias(FunctionName=FN, Name="live", Description="moved on")
expect("UpdateAlias stale RevisionId", *PF, lam.update_alias, FunctionName=FN, Name="live", Description="x", RevisionId=alias_old)
expect("UpdateAlias random RevisionId", *PF, lam.update_alias, FunctionName=FN, Name="live", Description="x", RevisionId=str(uuid.uuid4()))
fact("stale updates changed nothing", lam.get_function_configuration(FunctionName=FN)["Description"] == "moved on"
     and lam.get_alias(FunctionName=FN, Name="live")["Description"] == "moved on")

# 400 for CreateFunction input: ValidationException when a value breaks a
# constraint of the API model, InvalidParameterValueException for Lambda's
# own checks.
IV = ("InvalidParameterValueException", 400)
VE = ("ValidationException", 400)
n = [0]


def create(name, code="InvalidParameterValueException", status=400, zipname=None, **override):
    n[0] += 1
    kw = dict(FunctionName="b3-v%d" % n[0], Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": OK})
    if zipname:
        kw["Code"] = {"ZipFile": zipfile(zipname)}
    kw.update(override)
    kw = {k: v for k, v in kw.items() if v is not None}
    expect(name, code, status, lam.create_function, **kw)


create("bad name", *VE, FunctionName="bad name!")
create("name too long", *VE, FunctionName="x" * 65)
create("bad handler", *VE, Handler="app handler")
create("no handler", Handler=None)
create("no runtime", Runtime=None)
create("no role", *VE, Role=None)
create("unknown runtime", Runtime="python2.99")
create("deprecated runtime python2.7", Runtime="python2.7")
create("memory 64", *VE, MemorySize=64)
create("memory 10241", MemorySize=10241)
create("timeout 0", *VE, Timeout=0)
create("timeout 901", *VE, Timeout=901)
create("environment over 4 KB", Environment={"Variables": {"BIG": "x" * 4200}})
create("reserved environment key AWS_REGION", Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
create("ephemeral storage 511", *VE, EphemeralStorage={"Size": 511})
create("ephemeral storage 10241", *VE, EphemeralStorage={"Size": 10241})
create("description over 256", *VE, Description="d" * 257)
create("51 tags", Tags={"k%d" % i: "v" for i in range(51)})
create("aws: tag prefix", Tags={"aws:owner": "me"})
create("bad role ARN", *VE, Role="not-a-role")
create("role ARN of another service", *VE, Role="arn:aws:s3:::bucket")
create("six layers", Layers=["arn:aws:lambda:%s:%s:layer:l%d:1" % (cfg["region"], cfg["account"], i) for i in range(6)])
create("zip path traversal", zipname="traversal")
create("zip absolute path", zipname="absolute")
create("zip symlink escaping", zipname="symlink")
create("not a zip", zipname="notzip")
create("empty zip file", zipname="empty")
create("zip bomb", zipname="bomb")
create("zip bomb with lying sizes", zipname="liar")
create("zip over 50 MB", code="RequestEntityTooLargeException", status=413, zipname="big")
expect("UpdateFunctionCode zip bomb", *IV, lam.update_function_code, FunctionName=FN, ZipFile=zipfile("bomb"))
expect("UpdateFunctionCode path traversal", *IV, lam.update_function_code, FunctionName=FN, ZipFile=zipfile("traversal"))
expect("UpdateFunctionConfiguration memory 64", *VE, lam.update_function_configuration, FunctionName=FN, MemorySize=64)
expect("UpdateFunctionConfiguration timeout 901", *VE, lam.update_function_configuration, FunctionName=FN, Timeout=901)
expect("UpdateFunctionConfiguration memory 10241", *IV, lam.update_function_configuration, FunctionName=FN, MemorySize=10241)
expect("UpdateFunctionConfiguration reserved key", *IV, lam.update_function_configuration, FunctionName=FN, Environment={"Variables": {"AWS_REGION": "x"}})
expect("TagResource aws: prefix", *IV, lam.tag_resource, Resource=cfg["arn_prefix"] + FN, Tags={"aws:x": "y"})

# Aliases.
expect("alias routing weight 1.5", *VE, lam.create_alias, FunctionName=FN, Name="w15", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
expect("alias routing weight -0.1", *VE, lam.create_alias, FunctionName=FN, Name="wneg", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": -0.1}})
expect("alias on $LATEST with routing", *IV, lam.create_alias, FunctionName=FN, Name="latest-canary", FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})
expect("alias routing to $LATEST", *VE, lam.create_alias, FunctionName=FN, Name="to-latest", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.1}})
expect("alias routing to its own version", *IV, lam.create_alias, FunctionName=FN, Name="self", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})
expect("alias name all digits", *VE, lam.create_alias, FunctionName=FN, Name="123", FunctionVersion="1")

names = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
fact("refused creates left nothing behind", names == [FN], names)
cfgnow = lam.get_function_configuration(FunctionName=FN)
fact("refused updates left the function as it was", cfgnow["MemorySize"] == 128 and cfgnow["Timeout"] == 3, cfgnow)
`

// boto3Row is one line of the script's output.
type boto3Row struct {
	Name          string            `json:"name"`
	WantCode      string            `json:"want_code"`
	WantStatus    int               `json:"want_status"`
	Code          string            `json:"code"`
	Status        int               `json:"status"`
	Message       string            `json:"message"`
	Type          string            `json:"type"`
	Headers       map[string]string `json:"headers"`
	MsgKey        string            `json:"msg_key"`
	MsgKeyPresent bool              `json:"msg_key_present"`
	Exception     string            `json:"exception"`
	Fact          bool              `json:"fact"`
	OK            bool              `json:"ok"`
	Detail        string            `json:"detail"`
}

func TestBoto3Errors(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	bomb, liar := zipBombs(t)
	zips := map[string][]byte{
		"ok":        handlerZip(t, "one"),
		"ok2":       handlerZip(t, "two"),
		"traversal": makeZip(t, zipEntry{Name: "app.py", Body: "x = 1\n"}, zipEntry{Name: "../evil", Body: "evil"}),
		"absolute":  makeZip(t, zipEntry{Name: "app.py", Body: "x = 1\n"}, zipEntry{Name: "/etc/evil", Body: "evil"}),
		"symlink":   makeZip(t, zipEntry{Name: "app.py", Body: "x = 1\n"}, zipEntry{Name: "link", Body: "/etc/passwd", Mode: fs.ModeSymlink | 0o777}),
		"notzip":    []byte("this is not a zip file, just some bytes\n"),
		"empty":     {},
		"bomb":      bomb,
		"liar":      liar,
		"big":       bigZip(t, 51<<20),
	}
	paths := map[string]string{}
	for name, b := range zips {
		paths[name] = writeTemp(t, name+".zip", b)
	}
	cfg, _ := json.Marshal(map[string]any{
		"endpoint": s.url, "region": region, "account": accountID, "key": rootAccessKeyID, "secret": rootSecretAccessKey,
		"role": testRole, "arn_prefix": functionARN(""), "zips": paths,
	})
	script := writeTemp(t, "errors.py", []byte(boto3Script))
	r := runCmd(t, s.env(), nil, 3*time.Minute, "python3", script, writeTemp(t, "config.json", cfg))
	if r.Code != 0 {
		t.Fatalf("boto3 script failed:\n%s", r)
	}
	var rows []boto3Row
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var row boto3Row
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		rows = append(rows, row)
	}
	if len(rows) < 60 {
		t.Errorf("only %d cases ran:\n%s", len(rows), r)
	}
	for _, row := range rows {
		t.Run(row.Name, func(t *testing.T) {
			checkBoto3Row(t, row)
		})
	}
}

func checkBoto3Row(t *testing.T, row boto3Row) {
	if row.Fact {
		if !row.OK {
			t.Errorf("not true: %s %s", row.Name, row.Detail)
		}
		return
	}
	if row.Exception != "" {
		t.Fatalf("want %s (HTTP %d), the client raised %s", row.WantCode, row.WantStatus, row.Exception)
	}
	if row.Code != row.WantCode || row.Status != row.WantStatus {
		t.Errorf("got %q (HTTP %d), want %s (HTTP %d); message: %q", row.Code, row.Status, row.WantCode, row.WantStatus, row.Message)
	}
	if row.Code == "" {
		return
	}
	if row.Status >= 500 {
		t.Errorf("server error %d for bad input", row.Status)
	}
	if row.Message == "" {
		t.Errorf("error has no message")
	}
	// A value that breaks a constraint of the API model is refused in the
	// request validation wording, and only with ValidationException.
	modelConstraint := strings.HasPrefix(row.Message, "1 validation error detected: ") &&
		strings.Contains(row.Message, " failed to satisfy constraint: ")
	if (row.Code == "ValidationException") != modelConstraint {
		t.Errorf("%s with message %q", row.Code, row.Message)
	}
	// Members beyond Error.Code/Message reach boto3 only for exceptions
	// its model knows; the raw body of the others is checked in TestWire.
	if row.MsgKey != "" && row.Type != "User" {
		t.Errorf("body member Type = %q, want User", row.Type)
	}
	if row.MsgKey != "" && !row.MsgKeyPresent {
		t.Errorf("body has no %q member (the casing of %s's shape); message seen: %q", row.MsgKey, row.Code, row.Message)
	}
	if et := row.Headers["x-amzn-errortype"]; et == "" || strings.Split(et, ":")[0] != row.Code {
		t.Errorf("x-amzn-ErrorType = %q, want %s", et, row.Code)
	}
	if row.Headers["x-amzn-requestid"] == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
}

// zipBombs returns two small zips that inflate to 300 MB of zeros: one that
// says so in its headers, and one whose headers claim 1 KB.
func zipBombs(t testing.TB) (honest, liar []byte) {
	t.Helper()
	const size = 300 << 20
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	crc := crc32.NewIEEE()
	for i := 0; i < size/len(zeros); i++ {
		fw.Write(zeros)
		crc.Write(zeros)
	}
	fw.Close()
	build := func(crc uint32, uncompressed uint64) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		if w, err := zw.Create("app.py"); err == nil {
			w.Write([]byte("x = 1\n"))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "zeros.bin", Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: uncompressed})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	return build(crc.Sum32(), size), build(0x12345678, 1024)
}

// bigZip is a valid zip of n bytes of incompressible data.
func bigZip(t testing.TB, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(data)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "blob.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
