// Command urlfn is the function the function URL end-to-end tests deploy as
// a provided.al2023 bootstrap. It takes payload format 2.0 events
// (aws-lambda-go's LambdaFunctionURLRequest) and answers by path:
//
//	/echo          200 with the event as it arrived
//	/status/<n>    status n, header x-custom: urlfn, two cookies, text body
//	/binary        the request body returned as a base64 binary response
//	/plain         a plain JSON object without statusCode
//	/string        a plain JSON string
//	/cors          a response that sets its own Access-Control-Allow-Origin
//	/page          an HTML page whose inline script writes into the DOM
//	/error         a function error
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

const page = `<!doctype html>
<html><head><title>urlfn</title></head>
<body><div id="out">not run</div>
<script>document.getElementById("out").textContent = "rendered-by-script " + (6 * 7);</script>
</body></html>`

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var e events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	switch p := e.RawPath; {
	case p == "/echo":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"}, Body: string(raw)}, nil
	case strings.HasPrefix(p, "/status/"):
		n, err := strconv.Atoi(strings.TrimPrefix(p, "/status/"))
		if err != nil {
			return nil, err
		}
		return events.LambdaFunctionURLResponse{StatusCode: n, Headers: map[string]string{"x-custom": "urlfn", "content-type": "text/plain"},
			Cookies: []string{"session=abc; Path=/", "theme=dark"}, Body: "status " + strconv.Itoa(n)}, nil
	case p == "/binary":
		body := []byte(e.Body)
		if e.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(e.Body)
			if err != nil {
				return nil, err
			}
			body = b
		}
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/octet-stream"},
			Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}, nil
	case p == "/plain":
		return map[string]any{"plain": true, "method": e.RequestContext.HTTP.Method}, nil
	case p == "/string":
		return "hello from urlfn", nil
	case p == "/cors":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"access-control-allow-origin": "https://function.example"}, Body: "cors"}, nil
	case p == "/page":
		return events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"content-type": "text/html; charset=utf-8"}, Body: page}, nil
	case p == "/error":
		return nil, errors.New("urlfn failed on purpose")
	}
	return events.LambdaFunctionURLResponse{StatusCode: 404, Body: "no route " + e.RawPath}, nil
}

func main() { lambda.Start(handle) }
