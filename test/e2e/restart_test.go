package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// functionState is everything the API says about one function, as JSON
// that can be compared across restarts. Code download links are left out
// (they are signed per request); the downloaded bytes are kept instead.
type functionState struct {
	Configuration string
	Tags          map[string]string
	Concurrency   int32
	Versions      []string
	Aliases       []string
	Policy        string
	Code          []byte
}

// captureState reads every function on the server and the code of every
// version.
func captureState(t *testing.T, lc *lambda.Client) map[string]functionState {
	t.Helper()
	ctx := t.Context()
	out := map[string]functionState{}
	p := lambda.NewListFunctionsPaginator(lc, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		for _, f := range page.Functions {
			name := aws.ToString(f.FunctionName)
			out[name] = captureFunction(t, lc, name)
		}
	}
	return out
}

func captureFunction(t *testing.T, lc *lambda.Client, name string) functionState {
	t.Helper()
	ctx := t.Context()
	var st functionState
	got, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetFunction %s: %v", name, err)
	}
	st.Configuration = toJSON(got.Configuration)
	st.Tags = got.Tags
	if got.Concurrency != nil {
		st.Concurrency = aws.ToInt32(got.Concurrency.ReservedConcurrentExecutions)
	}
	if st.Code, err = download(ctx, aws.ToString(got.Code.Location)); err != nil {
		t.Fatalf("code of %s: %v", name, err)
	}
	if codeSha256(st.Code) != aws.ToString(got.Configuration.CodeSha256) {
		t.Errorf("code of %s downloads as %s, CodeSha256 says %s", name, codeSha256(st.Code), aws.ToString(got.Configuration.CodeSha256))
	}
	vers, err := lc.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListVersionsByFunction %s: %v", name, err)
	}
	for _, v := range vers.Versions {
		st.Versions = append(st.Versions, toJSON(v))
		if aws.ToString(v.Version) == "$LATEST" {
			continue
		}
		vf, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name), Qualifier: v.Version})
		if err != nil {
			t.Fatalf("GetFunction %s:%s: %v", name, aws.ToString(v.Version), err)
		}
		code, err := download(ctx, aws.ToString(vf.Code.Location))
		if err != nil {
			t.Fatalf("code of %s:%s: %v", name, aws.ToString(v.Version), err)
		}
		if codeSha256(code) != aws.ToString(v.CodeSha256) {
			t.Errorf("code of %s:%s downloads as %s, CodeSha256 says %s", name, aws.ToString(v.Version), codeSha256(code), aws.ToString(v.CodeSha256))
		}
	}
	aliases, err := lc.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListAliases %s: %v", name, err)
	}
	for _, a := range aliases.Aliases {
		st.Aliases = append(st.Aliases, toJSON(a))
	}
	sort.Strings(st.Aliases)
	pol, err := lc.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(name)})
	if err == nil {
		st.Policy = aws.ToString(pol.Policy) + " rev " + aws.ToString(pol.RevisionId)
	} else if code, _ := apiError(err); code != "ResourceNotFoundException" {
		t.Fatalf("GetPolicy %s: %v", name, err)
	}
	return st
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// compareStates reports every difference between two captures.
func compareStates(t *testing.T, when string, before, after map[string]functionState) {
	t.Helper()
	for name, b := range before {
		a, ok := after[name]
		if !ok {
			t.Errorf("%s: function %s is gone", when, name)
			continue
		}
		bj, aj := toJSON(b), toJSON(a)
		if bj != aj {
			t.Errorf("%s: function %s differs\nbefore: %s\nafter:  %s", when, name, bj, aj)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s: function %s appeared", when, name)
		}
	}
}

// waitAllSettled waits until every function is Active with its last
// update Successful.
func waitAllSettled(t *testing.T, lc *lambda.Client, names ...string) {
	t.Helper()
	for _, name := range names {
		eventually(t, 30*time.Second, name+" to be Active and Successful", func() error {
			got, err := lc.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			if err != nil {
				return err
			}
			if c := got.Configuration; c.State != types.StateActive || c.LastUpdateStatus != types.LastUpdateStatusSuccessful {
				return fmt.Errorf("State %s, LastUpdateStatus %s", c.State, c.LastUpdateStatus)
			}
			return nil
		})
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	lc := newSDK(t, s)
	ctx := t.Context()
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// rs-a: two versions, two aliases (one with a canary), tags, a policy,
	// reserved concurrency.
	_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("rs-a"), Runtime: types.RuntimePython312, Role: aws.String(testRole), Handler: aws.String("app.handler"),
		Code: &types.FunctionCode{ZipFile: handlerZip(t, "a1")}, Description: aws.String("first"),
		Environment: &types.Environment{Variables: map[string]string{"KEY": "v"}}, Tags: map[string]string{"team": "kumo"},
	})
	step("create rs-a", err)
	waitAllSettled(t, lc, "rs-a")
	_, err = lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rs-a")})
	step("publish rs-a:1", err)
	_, err = lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("rs-a"), ZipFile: handlerZip(t, "a2")})
	step("update rs-a code", err)
	waitAllSettled(t, lc, "rs-a")
	_, err = lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rs-a"), Description: aws.String("second")})
	step("publish rs-a:2", err)
	_, err = lc.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("rs-a"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.3}}})
	step("alias live", err)
	_, err = lc.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("rs-a"), Name: aws.String("beta"), FunctionVersion: aws.String("2")})
	step("alias beta", err)
	_, err = lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("rs-a"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::bucket")})
	step("add permission", err)
	_, err = lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("rs-a"), ReservedConcurrentExecutions: aws.Int32(7)})
	step("concurrency", err)
	_, err = lc.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(functionARN("rs-a")), Tags: map[string]string{"stage": "prod"}})
	step("tag", err)

	// rs-b: plain. rs-c: configuration changed, one version.
	_, err = lc.CreateFunction(ctx, createInput("rs-b", handlerZip(t, "b")))
	step("create rs-b", err)
	_, err = lc.CreateFunction(ctx, createInput("rs-c", handlerZip(t, "c")))
	step("create rs-c", err)
	waitAllSettled(t, lc, "rs-b", "rs-c")
	_, err = lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("rs-c"),
		MemorySize: aws.Int32(1024), Timeout: aws.Int32(60), EphemeralStorage: &types.EphemeralStorage{Size: aws.Int32(2048)}})
	step("configure rs-c", err)
	waitAllSettled(t, lc, "rs-c")
	_, err = lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rs-c")})
	step("publish rs-c:1", err)
	_, err = lc.CreateFunction(ctx, createInput("rs-deleted", handlerZip(t, "d")))
	step("create rs-deleted", err)
	_, err = lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("rs-deleted")})
	step("delete rs-deleted", err)
	waitAllSettled(t, lc, "rs-a", "rs-b", "rs-c")
	settingsBefore, err := lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	step("account settings", err)

	before := captureState(t, lc)
	if len(before) != 3 {
		t.Fatalf("want 3 functions before the restart, have %d", len(before))
	}

	// (a) SIGTERM and restart.
	s.stop()
	s = startServer(t, dataDir)
	lc = newSDK(t, s)
	afterTerm := captureState(t, lc)
	compareStates(t, "after SIGTERM and restart", before, afterTerm)
	settingsAfter, err := lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	step("account settings after restart", err)
	if toJSON(settingsBefore.AccountLimit) != toJSON(settingsAfter.AccountLimit) || toJSON(settingsBefore.AccountUsage) != toJSON(settingsAfter.AccountUsage) {
		t.Errorf("account settings changed across restart:\nbefore: %s %s\nafter:  %s %s", toJSON(settingsBefore.AccountLimit),
			toJSON(settingsBefore.AccountUsage), toJSON(settingsAfter.AccountLimit), toJSON(settingsAfter.AccountUsage))
	}

	// Writes after a restart are kept too.
	_, err = lc.CreateFunction(ctx, createInput("rs-after", handlerZip(t, "after")))
	step("create after restart", err)
	_, err = lc.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(functionARN("rs-a")), TagKeys: []string{"team"}})
	step("untag after restart", err)
	waitAllSettled(t, lc, "rs-after")
	before = captureState(t, lc)

	// (b) kill -9 and restart.
	s.kill9()
	s = startServer(t, dataDir)
	lc = newSDK(t, s)
	compareStates(t, "after kill -9 and restart", before, captureState(t, lc))

	// Still fully usable.
	_, err = lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("rs-b"), ZipFile: handlerZip(t, "b2"), Publish: true})
	step("update after kill -9", err)
	waitAllSettled(t, lc, "rs-b")
}

func TestKillDuringCreates(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	lc := newSDK(t, s)

	var mu sync.Mutex
	acked := map[string]string{} // name → CodeSha256 of every create answered 201
	var failures []string
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("crash-%d-%03d", w, i)
				zip := handlerZip(t, name)
				out, err := lc.CreateFunction(ctx, createInput(name, zip))
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s: %v", name, err))
					mu.Unlock()
					return
				}
				if aws.ToString(out.CodeSha256) != codeSha256(zip) {
					t.Errorf("CreateFunction %s: CodeSha256 %s, want %s", name, aws.ToString(out.CodeSha256), codeSha256(zip))
				}
				acked[name] = codeSha256(zip)
				if len(acked) >= 40 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatalf("fewer than 40 creates in 60s")
	}
	s.kill9()
	wg.Wait()
	t.Logf("%d creates acknowledged before kill -9; the calls in flight ended with: %s", len(acked), strings.Join(failures, "; "))

	s = startServer(t, dataDir)
	lc = newSDK(t, s)
	for name, sha := range acked {
		got, err := lc.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Errorf("%s was acknowledged with 201 but after kill -9: %v", name, err)
			continue
		}
		if aws.ToString(got.Configuration.CodeSha256) != sha {
			t.Errorf("%s: CodeSha256 %s, want %s", name, aws.ToString(got.Configuration.CodeSha256), sha)
		}
	}
	// Every function that exists, acknowledged or not, is whole: its code
	// downloads, and it becomes Active even if it was Pending at the kill.
	state := captureState(t, lc)
	if len(state) < len(acked) {
		t.Errorf("%d functions listed, %d were acknowledged", len(state), len(acked))
	}
	names := make([]string, 0, len(state))
	for name := range state {
		names = append(names, name)
	}
	sort.Strings(names)
	waitAllSettled(t, lc, names...)
}
