package iam

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"sync"
	"time"

	iampolicy "github.com/kumo-run/kumo/internal/iam"
)

// The AWS managed policies Kumo serves, read-only, under
// arn:aws:iam::aws:policy/PATH/NAME. Each file is the policy's default
// version as AWS publishes it (name, path, version id, dates and the
// document, statement for statement). ReadOnlyAccess alone is cut down:
// AWS's document lists read actions of every AWS service; Kumo's keeps,
// exactly as AWS writes them, the actions of the services Kumo serves or
// will serve (lambda, logs, iam, sts, ec2, sqs, sns, s3, events, dynamodb,
// kms, secretsmanager, apigateway) and leaves out the rest.
//
//go:embed managed/*.json
var managedFiles embed.FS

// awsPolicy is one AWS managed policy.
type awsPolicy struct {
	name, path, arn, id, version string
	created, updated             time.Time
	document                     string // compact JSON
}

// managedSet holds the AWS managed policies by ARN, and in the order
// ListPolicies answers them (by name).
type managedSet struct {
	byARN map[string]*awsPolicy
	list  []*awsPolicy
}

// awsManagedSet parses the embedded policies on first use, not at start:
// every start of the kumo binary (each sandbox's init among them) would
// pay for it.
var awsManagedSet = sync.OnceValue(loadManaged)

// awsManaged is the AWS managed policy with this ARN, or nil.
func awsManaged(arn string) *awsPolicy { return awsManagedSet().byARN[arn] }

func loadManaged() managedSet {
	set := managedSet{byARN: map[string]*awsPolicy{}}
	entries, err := managedFiles.ReadDir("managed")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := managedFiles.ReadFile(path.Join("managed", e.Name()))
		if err != nil {
			panic(err)
		}
		var f struct {
			PolicyName, Path, DefaultVersionId string
			CreateDate, UpdateDate             time.Time
			Document                           json.RawMessage
		}
		if err := json.Unmarshal(b, &f); err != nil {
			panic(fmt.Sprintf("iam: managed/%s: %v", e.Name(), err))
		}
		doc, err := compact(f.Document)
		if err != nil {
			panic(err)
		}
		if _, err := iampolicy.Parse(doc, iampolicy.KindIdentity); err != nil {
			panic(fmt.Sprintf("iam: managed/%s: %v", e.Name(), err))
		}
		p := &awsPolicy{name: f.PolicyName, path: f.Path, version: f.DefaultVersionId,
			arn:     "arn:aws:iam::aws:policy" + f.Path + f.PolicyName,
			created: f.CreateDate.UTC(), updated: f.UpdateDate.UTC(), document: doc}
		p.id = "ANPA" + stableID(p.arn)
		set.byARN[p.arn] = p
		set.list = append(set.list, p)
	}
	sort.Slice(set.list, func(i, j int) bool { return set.list[i].name < set.list[j].name })
	return set
}
