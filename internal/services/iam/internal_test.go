package iam

import (
	"bytes"
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
	iampolicy "github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/store"
)

// TestActionTable: every operation served has an action, and every
// action an operation.
func TestActionTable(t *testing.T) {
	is, _ := token.New(bytes.Repeat([]byte{1}, token.KeySize))
	s := New(Config{Directory: &Directory{cfg: DirectoryConfig{Issuer: is, Partition: "aws", Account: "000000000000"}}})
	for op := range s.ops {
		if _, ok := actions[op]; !ok {
			t.Errorf("operation %s has no action", op)
		}
	}
	for op := range actions {
		if _, ok := s.ops[op]; !ok {
			t.Errorf("action of %s, an operation not served", op)
		}
	}
}

// TestManagedDocuments: every embedded AWS managed policy parses and has
// the ARN AWS gives it.
func TestManagedDocuments(t *testing.T) {
	for _, want := range []string{
		"arn:aws:iam::aws:policy/AdministratorAccess",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
		"arn:aws:iam::aws:policy/AWSLambda_FullAccess",
		"arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
		"arn:aws:iam::aws:policy/ReadOnlyAccess",
		"arn:aws:iam::aws:policy/IAMFullAccess",
		"arn:aws:iam::aws:policy/IAMReadOnlyAccess",
	} {
		p := awsManaged(want)
		if p == nil {
			t.Errorf("%s is not served", want)
			continue
		}
		if _, err := iampolicy.Parse(p.document, iampolicy.KindIdentity); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if len(awsManagedSet().byARN) != 10 {
		t.Errorf("%d AWS managed policies", len(awsManagedSet().byARN))
	}
}

// TestActionResources: the resource of a check is the entity's ARN with
// its path.
func TestActionResources(t *testing.T) {
	kv, _ := store.NewMemory().KV(context.Background(), "iam")
	is, _ := token.New(bytes.Repeat([]byte{1}, token.KeySize))
	d, err := OpenDirectory(context.Background(), DirectoryConfig{KV: kv, Issuer: is, Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := New(Config{Directory: d})
	ctx := context.Background()
	u := &user{Name: "Bob", Path: "/dev/", ID: "AIDAX", Tags: []Tag{{"team", "core"}}}
	if err := create(ctx, s, userKey("Bob"), u, nil); err != nil {
		t.Fatal(err)
	}
	q := func(vals ...string) awsproto.QueryRequest {
		r := awsproto.QueryRequest{Params: map[string][]string{}}
		for i := 0; i < len(vals); i += 2 {
			r.Params.Set(vals[i], vals[i+1])
		}
		r.Action = r.Params.Get("Action")
		return r
	}
	for _, tc := range []struct {
		q    awsproto.QueryRequest
		want string
	}{
		{q("Action", "GetUser", "UserName", "bob"), "arn:aws:iam::000000000000:user/dev/Bob"},
		{q("Action", "CreateUser", "UserName", "ann", "Path", "/x/"), "arn:aws:iam::000000000000:user/x/ann"},
		{q("Action", "CreateRole", "RoleName", "r"), "arn:aws:iam::000000000000:role/r"},
		{q("Action", "ListUsers"), "arn:aws:iam::000000000000:user/"},
		{q("Action", "ListRoles", "PathPrefix", "/service-role/"), "arn:aws:iam::000000000000:role/service-role/"},
		{q("Action", "AttachRolePolicy", "RoleName", "r", "PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"), "arn:aws:iam::000000000000:role/r"},
		{q("Action", "GetPolicy", "PolicyArn", "arn:aws:iam::000000000000:policy/p"), "arn:aws:iam::000000000000:policy/p"},
		{q("Action", "CreatePolicy", "PolicyName", "p", "Path", "/t/"), "arn:aws:iam::000000000000:policy/t/p"},
		{q("Action", "AddUserToGroup", "GroupName", "g", "UserName", "bob"), "arn:aws:iam::000000000000:group/g"},
	} {
		if got := actions[tc.q.Action].resource(s, ctx, tc.q); got != tc.want {
			t.Errorf("%s: resource %s, want %s", tc.q.Action, got, tc.want)
		}
	}
	if tags := actions["TagUser"].tags(s, q("UserName", "bob")); tags["team"] != "core" {
		t.Errorf("resource tags %v", tags)
	}
	if tags := actions["ListUsers"].tags(s, q()); tags != nil {
		t.Errorf("ListUsers resource tags %v", tags)
	}
}

// BenchmarkPrincipal is what authorization asks the directory on every
// request signed by a user or a role session.
func BenchmarkPrincipal(b *testing.B) {
	kv, _ := store.NewMemory().KV(context.Background(), "iam")
	is, _ := token.New(bytes.Repeat([]byte{1}, token.KeySize))
	ctx := context.Background()
	d, err := OpenDirectory(ctx, DirectoryConfig{KV: kv, Issuer: is, Account: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	s := New(Config{Directory: d})
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`
	for i := range 200 {
		name := "user" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		u := &user{Name: name, Path: "/", ID: "AIDA" + name, Inline: map[string]string{"p": doc},
			Attached: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, Groups: []string{"g"}}
		if err := create(ctx, s, userKey(name), u, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := create(ctx, s, groupKey("g"), &group{Name: "g", Path: "/", ID: "AGPAG", Inline: map[string]string{"p": doc}}, nil); err != nil {
		b.Fatal(err)
	}
	if err := create(ctx, s, roleKey("fn"), &role{Name: "fn", Path: "/", Trust: `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
		Inline: map[string]string{"p": doc}, Attached: []string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}}, nil); err != nil {
		b.Fatal(err)
	}
	var dir authz.Directory = d
	userID := awsproto.Identity{ARN: "arn:aws:iam::000000000000:user/userab", UserID: "AIDAuserab"}
	sess, _ := is.RoleSession("arn:aws:iam::000000000000:role/fn", "s")
	if p, ok := dir.Principal(userID); !ok || len(p.Policies) != 3 {
		b.Fatalf("user principal %+v %v", p, ok)
	}
	b.Run("user", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := dir.Principal(userID); !ok {
				b.Fatal("no principal")
			}
		}
	})
	b.Run("role session", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := dir.Principal(sess); !ok {
				b.Fatal("no principal")
			}
		}
	})
	b.Run("access key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dir.AccessKey("AKIANOTAKEY000000000")
		}
	})
}
