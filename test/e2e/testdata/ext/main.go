// Command ext is an external Lambda extension for the e2e tests: it
// registers for INVOKE and SHUTDOWN through the Extensions API and prints
// every event it gets, as a line "EXT <name> ...", into the function's log.
// With KUMO_EXT_MODE=initerror in the function's environment it reports
// an init error instead, as an extension whose configuration is wrong does.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	name := filepath.Base(os.Args[0])
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	req, _ := http.NewRequest(http.MethodPost, base+"/register", bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	req.Header.Set("Lambda-Extension-Name", name)
	req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("EXT", name, "register failed:", err)
		os.Exit(1)
	}
	var meta map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	fmt.Printf("EXT %s registered status=%d function=%s version=%s handler=%s account=%s\n",
		name, resp.StatusCode, meta["functionName"], meta["functionVersion"], meta["handler"], meta["accountId"])

	if os.Getenv("KUMO_EXT_MODE") == "initerror" {
		req, _ := http.NewRequest(http.MethodPost, base+"/init/error", bytes.NewReader([]byte(`{"errorMessage":"bad config","errorType":"Extension.ConfigInvalid"}`)))
		req.Header.Set("Lambda-Extension-Identifier", id)
		req.Header.Set("Lambda-Extension-Function-Error-Type", "Extension.ConfigInvalid")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			fmt.Println("EXT", name, "init/error status", resp.StatusCode)
			resp.Body.Close()
		}
		os.Exit(1)
	}

	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("EXT", name, "next failed:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType          string `json:"eventType"`
			RequestID          string `json:"requestId"`
			DeadlineMs         int64  `json:"deadlineMs"`
			InvokedFunctionArn string `json:"invokedFunctionArn"`
			ShutdownReason     string `json:"shutdownReason"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		switch ev.EventType {
		case "INVOKE":
			fmt.Printf("EXT %s INVOKE %s arn=%s deadline=%t\n", name, ev.RequestID, ev.InvokedFunctionArn, ev.DeadlineMs > 0)
		case "SHUTDOWN":
			fmt.Printf("EXT %s SHUTDOWN %s deadline=%t\n", name, ev.ShutdownReason, ev.DeadlineMs > 0)
			os.Exit(0)
		default:
			fmt.Printf("EXT %s unexpected status=%d event %+v\n", name, resp.StatusCode, ev)
			os.Exit(1)
		}
	}
}
