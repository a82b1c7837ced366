// Command apigwfn is the function the API Gateway end-to-end tests deploy
// as a provided.al2023 bootstrap. It answers by the event it gets:
//
//	a REQUEST authorizer event   {"isAuthorized": authorization == "allow", "context": {"who": "e2e"}}
//	a payload format 1.0 event    200 with the event as its body
//	a 2.0 event for …/upload      the request body back as a base64 binary response
//	any other 2.0 event           200 with the event as its body
package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type probe struct {
	Version         string            `json:"version"`
	Type            string            `json:"type"`
	RawPath         string            `json:"rawPath"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case p.Type == "REQUEST":
		return map[string]any{"isAuthorized": p.Headers["authorization"] == "allow", "context": map[string]any{"who": "e2e"}}, nil
	case p.Version == "1.0":
		return map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/json"}, "body": string(raw)}, nil
	case strings.HasSuffix(p.RawPath, "/upload"):
		if p.IsBase64Encoded {
			return map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/octet-stream"}, "body": p.Body, "isBase64Encoded": true}, nil
		}
		return map[string]any{"statusCode": 415, "body": "expected a base64 body"}, nil
	}
	return map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/json"}, "body": string(raw)}, nil
}

func main() { lambda.Start(handle) }
