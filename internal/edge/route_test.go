package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// named is a handler that only has a name, for routing tests.
type named string

func (named) ServeHTTP(http.ResponseWriter, *http.Request) {}

func TestTableMatch(t *testing.T) {
	var tb Table
	lambdaMatch := []Matcher{{Service: "lambda"}}
	for _, d := range lambdaDates {
		lambdaMatch = append(lambdaMatch, Matcher{PathPrefix: "/" + d + "/"})
	}
	tb.MustAdd(
		Route{Name: "function-url", Match: []Matcher{{Host: "*.lambda-url.us-east-1.localhost"}, {PathPrefix: "/lambda-url/"}}, Handler: named("url")},
		Route{Name: "metrics", Match: []Matcher{{Method: "GET", Path: "/metrics"}}, Handler: named("metrics")},
		Route{Name: "lambda", Match: lambdaMatch, Handler: named("lambda")},
		Route{Name: "logs", Match: []Matcher{{Service: "logs"}, {Target: "Logs_20140328."}}, Handler: named("logs")},
		Route{Name: "sqs", Match: []Matcher{{Service: "sqs"}, {Target: "AmazonSQS."}, {Query: map[string]string{"Action": "", "Version": "2012-11-05"}}}, Handler: named("sqs")},
		Route{Name: "iam", Match: []Matcher{{Host: "iam.localhost"}}, Handler: named("iam")},
	)
	scope := func(service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	}
	tests := []struct {
		name          string
		method, host  string
		target        string
		xAmzTarget    string
		authorization string
		want          string
	}{
		{"lambda by path", "GET", "127.0.0.1:9070", "/2015-03-31/functions/", "", "", "lambda"},
		{"every Lambda API version", "GET", "127.0.0.1", "/2021-10-31/functions/f/url", "", "", "lambda"},
		{"an unknown API date is no Lambda path", "GET", "127.0.0.1", "/2099-01-01/functions", "", "", ""},
		{"a date without its slash is no Lambda path", "GET", "127.0.0.1", "/2015-03-31", "", "", ""},
		{"lambda by scope", "GET", "127.0.0.1", "/whatever", "", scope("lambda"), "lambda"},
		{"logs by target", "POST", "127.0.0.1", "/", "Logs_20140328.PutLogEvents", "", "logs"},
		{"logs by scope", "POST", "127.0.0.1", "/", "", scope("logs"), "logs"},
		{"query protocol by Action and Version", "GET", "127.0.0.1", "/?Action=ListQueues&Version=2012-11-05", "", "", "sqs"},
		{"query protocol with another Version", "GET", "127.0.0.1", "/?Action=ListQueues&Version=2010-05-08", "", "", ""},
		{"host pattern, any case, any port", "POST", "ABCDEF.Lambda-Url.us-east-1.localhost:9070", "/2015-03-31/functions", "", scope("lambda"), "function-url"},
		{"host pattern takes one label only", "GET", "a.b.lambda-url.us-east-1.localhost", "/x", "", "", ""},
		{"host pattern needs a label", "GET", ".lambda-url.us-east-1.localhost", "/x", "", "", ""},
		{"host of another region", "GET", "abc.lambda-url.eu-west-1.localhost", "/x", "", "", ""},
		// Order decides between routes that both match: a function URL
		// path that looks like a signed Lambda call goes to the URL, the
		// first route.
		{"order: URL path before lambda scope", "POST", "127.0.0.1", "/lambda-url/abc/", "", scope("lambda"), "function-url"},
		{"order: lambda path signed for logs goes to lambda", "GET", "127.0.0.1", "/2015-03-31/functions", "", scope("logs"), "lambda"},
		{"order: logs target signed for sqs goes to logs", "POST", "127.0.0.1", "/", "Logs_20140328.X", scope("sqs"), "logs"},
		{"exact host", "POST", "iam.localhost:9070", "/", "", "", "iam"},
		{"method matters", "POST", "127.0.0.1", "/metrics", "", "", ""},
		{"metrics", "GET", "127.0.0.1", "/metrics", "", "", "metrics"},
		{"unknown scope", "GET", "127.0.0.1", "/", "", scope("s3"), ""},
		{"malformed authorization", "GET", "127.0.0.1", "/", "", "AWS4-HMAC-SHA256 Credential=lambda", ""},
		{"nothing", "GET", "127.0.0.1", "/", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = tc.host
			if tc.xAmzTarget != "" {
				r.Header.Set("X-Amz-Target", tc.xAmzTarget)
			}
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			got := ""
			if rt := tb.Match(r); rt != nil {
				got = rt.Name
			}
			if got != tc.want {
				t.Errorf("route %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTableAmbiguity(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		err    string
	}{
		{"same matcher twice", []Route{
			{Name: "a", Match: []Matcher{{Service: "lambda"}}, Handler: named("a")},
			{Name: "b", Match: []Matcher{{PathPrefix: "/x/"}, {Service: "lambda"}}, Handler: named("b")},
		}, `matcher {Host: Method: Path: PathPrefix: Target: Service:lambda Query:map[]} is already route "a"'s`},
		{"same query", []Route{
			{Name: "a", Match: []Matcher{{Query: map[string]string{"Action": ""}}}, Handler: named("a")},
			{Name: "b", Match: []Matcher{{Query: map[string]string{"Action": ""}}}, Handler: named("b")},
		}, `is already route "a"'s`},
		{"a route after a catch-all", []Route{
			{Name: "all", Handler: named("all")},
			{Name: "b", Match: []Matcher{{Service: "b"}}, Handler: named("b")},
		}, `route "b" follows catch-all route "all"`},
		{"no handler", []Route{{Name: "x", Match: []Matcher{{Service: "x"}}}}, `route "x" has no handler`},
		{"different queries", []Route{
			{Name: "a", Match: []Matcher{{Query: map[string]string{"Action": "", "Version": "1"}}}, Handler: named("a")},
			{Name: "b", Match: []Matcher{{Query: map[string]string{"Action": "", "Version": "2"}}}, Handler: named("b")},
		}, ""},
		{"same prefix, different hosts", []Route{
			{Name: "a", Match: []Matcher{{Host: "a.localhost", PathPrefix: "/"}}, Handler: named("a")},
			{Name: "b", Match: []Matcher{{Host: "b.localhost", PathPrefix: "/"}}, Handler: named("b")},
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tb Table
			err := tb.Add(tc.routes...)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Add: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Add: %v, want an error containing %q", err, tc.err)
			}
		})
	}
	// New refuses an ambiguous table rather than serving it.
	defer func() {
		if recover() == nil {
			t.Error("New accepted a route shadowing another")
		}
	}()
	New(Config{Routes: []Route{
		{Name: "a", Match: []Matcher{{Path: "/healthz"}}, Handler: named("a")},
		{Name: "b", Match: []Matcher{{Path: "/healthz"}}, Handler: named("b")},
	}})
}

func TestBodyLimits(t *testing.T) {
	limit := BodyLimits(map[string]int64{
		"POST /2015-03-31/functions/{FunctionName}/invocations": 6 << 20,
		"POST /2015-03-31/functions":                            70 << 20,
		"PUT /2015-03-31/functions/{FunctionName}/code":         70 << 20,
	})
	tests := []struct {
		method, target string
		want           int64
	}{
		{"POST", "/2015-03-31/functions/f/invocations", 6 << 20},
		{"POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations?Qualifier=1", 6 << 20},
		{"POST", "/2015-03-31/functions", 70 << 20},
		{"PUT", "/2015-03-31/functions/f/code", 70 << 20},
		{"GET", "/2015-03-31/functions/f/code", DefaultMaxBody},
		{"PUT", "/2015-03-31/functions/f/configuration", DefaultMaxBody},
		{"POST", "/2015-03-31/functions/f/invocations/extra", DefaultMaxBody},
	}
	for _, tc := range tests {
		if got := limit(httptest.NewRequest(tc.method, tc.target, nil)); got != tc.want {
			t.Errorf("%s %s: limit %d, want %d", tc.method, tc.target, got, tc.want)
		}
	}
}

func TestScopeService(t *testing.T) {
	tests := map[string]string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0": "lambda",
		"AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/logs/aws4_request,SignedHeaders=host":                 "logs",
		"AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/lambda":                                               "",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f":                                                                  "",
		"": "",
	}
	for in, want := range tests {
		if got := ScopeService(in); got != want {
			t.Errorf("ScopeService(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkMatch is the routing cost per request of a signed Lambda
// invoke against a table like the server's.
func BenchmarkMatch(b *testing.B) {
	var tb Table
	lm := []Matcher{{Service: "lambda"}}
	for _, d := range lambdaDates {
		lm = append(lm, Matcher{PathPrefix: "/" + d + "/"})
	}
	tb.MustAdd(
		Route{Name: "function-url", Match: []Matcher{{Host: "*.lambda-url.us-east-1.localhost"}, {PathPrefix: "/lambda-url/"}}, Handler: named("url")},
		Route{Name: "metrics", Match: []Matcher{{Method: "GET", Path: "/metrics"}}, Handler: named("metrics")},
		Route{Name: "lambda", Match: lm, Handler: named("lambda")},
	)
	r := httptest.NewRequest("POST", "/2015-03-31/functions/f/invocations", nil)
	r.Host = "127.0.0.1:9070"
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	b.ReportAllocs()
	for b.Loop() {
		if tb.Match(r).Name != "lambda" {
			b.Fatal("wrong route")
		}
	}
}
