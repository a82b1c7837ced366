package arn

import (
	"errors"
	"strings"
	"testing"
)

var scope = Scope{Partition: "aws", Region: "us-east-1", Account: "123456789012"}

func TestBuild(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{scope.Function("f"), "arn:aws:lambda:us-east-1:123456789012:function:f"},
		{scope.FunctionVersion("f", ""), "arn:aws:lambda:us-east-1:123456789012:function:f"},
		{scope.FunctionVersion("f", "$LATEST"), "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"},
		{scope.FunctionVersion("f", "live"), "arn:aws:lambda:us-east-1:123456789012:function:f:live"},
		{scope.Layer("l"), "arn:aws:lambda:us-east-1:123456789012:layer:l"},
		{scope.LayerVersion("l", 3), "arn:aws:lambda:us-east-1:123456789012:layer:l:3"},
		{scope.LogGroup("/aws/lambda/f"), "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f"},
		{scope.LogStream("/aws/lambda/f", "2026/12/05/[$LATEST]abc"), "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:2026/12/05/[$LATEST]abc"},
		{scope.Root(), "arn:aws:iam::123456789012:root"},
		{Scope{Partition: "aws-cn", Account: "210987654321"}.Root(), "arn:aws-cn:iam::210987654321:root"},
		{scope.Role("service-role/r"), "arn:aws:iam::123456789012:role/service-role/r"},
		{scope.User("u"), "arn:aws:iam::123456789012:user/u"},
		{scope.Queue("q.fifo"), "arn:aws:sqs:us-east-1:123456789012:q.fifo"},
		{scope.Topic("t"), "arn:aws:sns:us-east-1:123456789012:t"},
		{scope.Bucket("b"), "arn:aws:s3:::b"},
		{scope.Object("b", "dir/k.txt"), "arn:aws:s3:::b/dir/k.txt"},
		{scope.EventBus("default"), "arn:aws:events:us-east-1:123456789012:event-bus/default"},
		{scope.Rule("default", "r"), "arn:aws:events:us-east-1:123456789012:rule/r"},
		{scope.Rule("bus", "r"), "arn:aws:events:us-east-1:123456789012:rule/bus/r"},
		{scope.Key("1234abcd-12ab-34cd-56ef-1234567890ab"), "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{scope.KeyAlias("k"), "arn:aws:kms:us-east-1:123456789012:alias/k"},
		{scope.Secret("db/pass", "AbC123"), "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/pass-AbC123"},
		{scope.RestAPI("a1b2c3"), "arn:aws:apigateway:us-east-1::/restapis/a1b2c3"},
		{scope.ExecuteAPI("a1b2c3", "prod", "GET", "/pets/1"), "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/1"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
		a, err := Parse(c.got)
		if err != nil || a.String() != c.got {
			t.Errorf("Parse(%s) = %+v, %v", c.got, a, err)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ARN
		err  string
	}{
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:1", want: ARN{"aws", "lambda", "us-east-1", "123456789012", "function:f:1"}},
		{in: "arn:aws-us-gov:s3:::b/k:with:colons", want: ARN{"aws-us-gov", "s3", "", "", "b/k:with:colons"}},
		{in: "arn:aws:iam::aws:policy/AdministratorAccess", want: ARN{"aws", "iam", "", "aws", "policy/AdministratorAccess"}},
		{in: "arn:aws:execute-api:eu-west-1:123456789012:id/*/GET/", want: ARN{"aws", "execute-api", "eu-west-1", "123456789012", "id/*/GET/"}},
		{in: "", err: "does not start"},
		{in: "arn", err: "does not start"},
		{in: "ARN:aws:s3:::b", err: "does not start"},
		{in: "arn:aws:s3::", err: "fewer than six"},
		{in: "arn:aws:lambda:us-east-1:123456789012", err: "fewer than six"},
		{in: "arn:gcp:s3:::b", err: "partition"},
		{in: "arn:AWS:s3:::b", err: "partition"},
		{in: "arn:aws::us-east-1:123456789012:x", err: "service"},
		{in: "arn:aws:lam_bda:us-east-1:123456789012:x", err: "service"},
		{in: "arn:aws:lambda:us east-1:123456789012:x", err: "region"},
		{in: "arn:aws-X:Lambda:US-EAST-1:123456789012:x", want: ARN{"aws-X", "Lambda", "US-EAST-1", "123456789012", "x"}},
		{in: "arn:aws:lambda:us-east-1:12345678901:x", err: "account"},
		{in: "arn:aws:lambda:us-east-1:12345678901a:x", err: "account"},
		{in: "arn:aws:lambda:us-east-1:123456789012:", err: "no resource"},
		{in: "arn:aws:s3:::b\nk", err: "control"},
		{in: "arn:aws:s3:::" + strings.Repeat("k", MaxLen), err: "longer"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) = %+v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestParseFunction(t *testing.T) {
	for _, c := range []struct {
		in        string
		name, q   string
		wantError bool
	}{
		{in: "arn:aws:lambda:us-east-1:123456789012:function:my-fn_1", name: "my-fn_1"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", name: "f", q: "$LATEST"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:7", name: "f", q: "7"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:live", name: "f", q: "live"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("a", 64), name: strings.Repeat("a", 64)},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("a", 65), wantError: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:a:b", wantError: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:", wantError: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f.g", wantError: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:", wantError: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:f", wantError: true},
		{in: "arn:aws:lambda::123456789012:function:f", wantError: true},
		{in: "arn:aws:lambda:us-east-1::function:f", wantError: true},
		{in: "arn:aws:sqs:us-east-1:123456789012:function:f", wantError: true},
	} {
		f, err := ParseFunction(c.in)
		if c.wantError {
			if err == nil {
				t.Errorf("ParseFunction(%q) = %+v, want an error", c.in, f)
			}
			continue
		}
		if err != nil || f.Name != c.name || f.Qualifier != c.q || f.Scope != scope || f.String() != c.in {
			t.Errorf("ParseFunction(%q) = %+v, %v", c.in, f, err)
		}
	}
}

func TestParseLayer(t *testing.T) {
	for _, c := range []struct {
		in      string
		name    string
		version int
		bad     bool
	}{
		{in: scope.Layer("pandas"), name: "pandas"},
		{in: scope.LayerVersion("pandas", 12), name: "pandas", version: 12},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pandas:0", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pandas:-1", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pandas:1x", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pandas:99999999999999999999", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pan/das:1", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:pandas:1:2", bad: true},
		{in: scope.Function("pandas"), bad: true},
	} {
		l, err := ParseLayer(c.in)
		if c.bad != (err != nil) || !c.bad && (l.Name != c.name || l.Version != c.version || l.Scope != scope) {
			t.Errorf("ParseLayer(%q) = %+v, %v", c.in, l, err)
		}
	}
}

func TestParseLog(t *testing.T) {
	for _, c := range []struct {
		in            string
		group, stream string
		bad           bool
	}{
		{in: scope.LogGroup("/aws/lambda/f"), group: "/aws/lambda/f"},
		{in: scope.LogGroup("/aws/lambda/f") + ":*", group: "/aws/lambda/f"},
		{in: scope.LogStream("/aws/lambda/f", "2026/12/05/[$LATEST]ab"), group: "/aws/lambda/f", stream: "2026/12/05/[$LATEST]ab"},
		{in: scope.LogGroup("g") + ":", bad: true},
		{in: scope.LogGroup("g") + ":log-stream:", bad: true},
		{in: scope.LogGroup("g") + ":other", bad: true},
		{in: "arn:aws:logs:us-east-1:123456789012:log-group:", bad: true},
		{in: "arn:aws:logs:us-east-1:123456789012:destination:d", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:log-group:g", bad: true},
	} {
		l, err := ParseLog(c.in)
		if c.bad != (err != nil) || !c.bad && (l.Group != c.group || l.Stream != c.stream || l.Scope != scope) {
			t.Errorf("ParseLog(%q) = %+v, %v", c.in, l, err)
		}
	}
}

func TestParseIAM(t *testing.T) {
	for _, c := range []struct {
		in   string
		want IAM
		bad  bool
	}{
		{in: scope.Root(), want: IAM{"aws", "iam", "123456789012", "root", ""}},
		{in: scope.Role("service-role/r"), want: IAM{"aws", "iam", "123456789012", "role", "service-role/r"}},
		{in: "arn:aws:sts::123456789012:assumed-role/r/session", want: IAM{"aws", "sts", "123456789012", "assumed-role", "r/session"}},
		{in: "arn:aws:iam::aws:policy/ReadOnlyAccess", want: IAM{"aws", "iam", "aws", "policy", "ReadOnlyAccess"}},
		{in: "arn:aws:iam:us-east-1:123456789012:root", bad: true},
		{in: "arn:aws:iam:::root", bad: true},
		{in: "arn:aws:iam::123456789012:role/", bad: true},
		{in: "arn:aws:iam::123456789012:role", bad: true},
		{in: "arn:aws:s3::123456789012:root", bad: true},
	} {
		p, err := ParseIAM(c.in)
		if c.bad != (err != nil) || !c.bad && p != c.want {
			t.Errorf("ParseIAM(%q) = %+v, %v", c.in, p, err)
		}
	}
}

func TestParseServices(t *testing.T) {
	q, err := ParseQueue(scope.Queue("orders.fifo"))
	if err != nil || q.Name != "orders.fifo" || q.Scope != scope {
		t.Errorf("queue: %+v %v", q, err)
	}
	if _, err := ParseQueue("arn:aws:sqs:us-east-1:123456789012:a/b"); err == nil {
		t.Error("queue with '/' accepted")
	}
	if tp, err := ParseTopic(scope.Topic("t")); err != nil || tp.Name != "t" {
		t.Errorf("topic: %+v %v", tp, err)
	}
	if _, err := ParseTopic(scope.Topic("t") + ":0b1e8b8c-5d2a-4b8e-9f4f-111111111111"); err == nil {
		t.Error("a subscription ARN parsed as a topic")
	}
	if b, err := ParseS3(scope.Object("b", "a/b c.txt")); err != nil || b != (S3{"aws", "b", "a/b c.txt"}) {
		t.Errorf("s3: %+v %v", b, err)
	}
	for _, bad := range []string{"arn:aws:s3:us-east-1::b", "arn:aws:s3:::b/", "arn:aws:s3:::/k"} {
		if _, err := ParseS3(bad); err == nil {
			t.Errorf("ParseS3(%q) accepted", bad)
		}
	}
	if e, err := ParseEvents(scope.Rule("bus", "r")); err != nil || e.Type != "rule" || e.ID != "bus/r" {
		t.Errorf("events: %+v %v", e, err)
	}
	if _, err := ParseEvents("arn:aws:events:us-east-1:123456789012:connection/c"); err == nil {
		t.Error("events connection accepted as a bus or rule")
	}
	if k, err := ParseKMS(scope.KeyAlias("k")); err != nil || k.Type != "alias" || k.ID != "k" {
		t.Errorf("kms: %+v %v", k, err)
	}
	if s, err := ParseSecret(scope.Secret("db/pass-word", "AbC123")); err != nil || s.Name != "db/pass-word" || s.Suffix != "AbC123" {
		t.Errorf("secret: %+v %v", s, err)
	}
	if s, err := ParseSecret("arn:aws:secretsmanager:us-east-1:123456789012:secret:db/pass-word"); err != nil || s.Name != "db/pass-word" || s.Suffix != "" {
		t.Errorf("partial secret: %+v %v", s, err)
	}
	if e, err := ParseExecuteAPI(scope.ExecuteAPI("a1", "prod", "POST", "/pets/*")); err != nil || e.APIID != "a1" || e.Stage != "prod" || e.Method != "POST" || e.Path != "pets/*" {
		t.Errorf("execute-api: %+v %v", e, err)
	}
	if _, err := ParseExecuteAPI("arn:aws:execute-api:us-east-1:123456789012:a1/prod"); err == nil {
		t.Error("execute-api without a method accepted")
	}
}
