// Command apigwrestfn is the function the REST API end-to-end tests
// deploy as a provided.al2023 bootstrap. It answers by the event it gets:
//
//	a TOKEN authorizer event      a policy allowing the method when the token is "allow", denying it otherwise
//	a proxy event for …/upload    the request body back as a base64 binary response
//	any other proxy event         200 with {"fn": its name, "event": the event}
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type probe struct {
	Type               string `json:"type"`
	AuthorizationToken string `json:"authorizationToken"`
	MethodArn          string `json:"methodArn"`
	Path               string `json:"path"`
	Body               string `json:"body"`
	IsBase64Encoded    bool   `json:"isBase64Encoded"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case p.Type == "TOKEN":
		effect := "Deny"
		if p.AuthorizationToken == "allow" {
			effect = "Allow"
		}
		return map[string]any{"principalId": "e2e-user", "context": map[string]any{"who": "e2e"},
			"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": effect, "Action": "execute-api:Invoke", "Resource": p.MethodArn}}}}, nil
	case strings.HasSuffix(p.Path, "/upload"):
		return map[string]any{"statusCode": 200, "headers": map[string]string{"Content-Type": "image/png"}, "body": p.Body, "isBase64Encoded": p.IsBase64Encoded}, nil
	}
	body, _ := json.Marshal(map[string]any{"fn": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "event": raw})
	return map[string]any{"statusCode": 200, "headers": map[string]string{"Content-Type": "application/json"}, "body": string(body)}, nil
}

func main() { lambda.Start(handle) }
