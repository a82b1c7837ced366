package sns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/iam"
)

// Limits of SNS.
const (
	maxTags        = 50
	pageSize       = 100
	maxMessageSize = 256 * 1024
	maxBatch       = 10
	maxSubject     = 100
)

// Shapes of the query protocol.

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type entry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type attrMap struct {
	Entries []entry `xml:"entry"`
}

func toAttrMap(m map[string]string) attrMap {
	keys := slices.Sorted(maps.Keys(m))
	out := attrMap{Entries: make([]entry, 0, len(keys))}
	for _, k := range keys {
		out.Entries = append(out.Entries, entry{k, m[k]})
	}
	return out
}

func tagMap(in []struct{ Key, Value string }) (map[string]string, error) {
	m := map[string]string{}
	for _, t := range in {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, invalid("Invalid parameter: Tags Reason: Tag keys must be 1 to 128 characters and values at most 256")
		}
		m[t.Key] = t.Value
	}
	return m, nil
}

// Topics.

// topicAttributes are the attributes a topic may be created or set with.
var topicAttributes = map[string]bool{
	"DisplayName": true, "Policy": true, "DeliveryPolicy": true, "KmsMasterKeyId": true, "SignatureVersion": true,
	"TracingConfig": true, "DataProtectionPolicy": true, "ArchivePolicy": true, "FifoTopic": true, "ContentBasedDeduplication": true,
	"HTTPSuccessFeedbackRoleArn": true, "HTTPFailureFeedbackRoleArn": true, "HTTPSuccessFeedbackSampleRate": true,
	"LambdaSuccessFeedbackRoleArn": true, "LambdaFailureFeedbackRoleArn": true, "LambdaSuccessFeedbackSampleRate": true,
	"SQSSuccessFeedbackRoleArn": true, "SQSFailureFeedbackRoleArn": true, "SQSSuccessFeedbackSampleRate": true,
}

// checkTopicAttribute validates one attribute's value.
func checkTopicAttribute(name, value string) error {
	if !topicAttributes[name] {
		return invalid("Invalid parameter: AttributeName")
	}
	switch name {
	case "Policy":
		if value == "" {
			return nil
		}
		if _, err := iam.Parse(value, iam.KindResource); err != nil {
			return invalid("Invalid parameter: Policy Error: %s", clip(err.Error()))
		}
	case "SignatureVersion":
		if value != "1" && value != "2" {
			return invalid("Invalid parameter: SignatureVersion")
		}
	case "FifoTopic", "ContentBasedDeduplication":
		if value != "true" && value != "false" {
			return invalid("Invalid parameter: Attributes Reason: %s must be true or false", name)
		}
	case "DeliveryPolicy":
		if _, _, reason := parseRetryPolicy(value, true); reason != "" {
			return invalid("Invalid parameter: DeliveryPolicy: %s", reason)
		}
	case "DataProtectionPolicy", "ArchivePolicy":
		if value != "" && !json.Valid([]byte(value)) {
			return invalid("Invalid parameter: %s: failed to parse JSON.", name)
		}
	}
	return nil
}

func (s *Service) createTopic(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		Name       string
		Attributes map[string]string
		Tags       []struct{ Key, Value string }
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	fifo := in.Attributes["FifoTopic"] == "true"
	if fifo != strings.HasSuffix(in.Name, ".fifo") {
		return nil, invalid("Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.")
	}
	if !validTopicName(in.Name) {
		return nil, invalid("Invalid parameter: Topic Name")
	}
	for k, v := range in.Attributes {
		if err := checkTopicAttribute(k, v); err != nil {
			return nil, err
		}
	}
	if !fifo && in.Attributes["ContentBasedDeduplication"] == "true" {
		return nil, invalid("Invalid parameter: Attributes Reason: ContentBasedDeduplication can only be set for FIFO topics")
	}
	if !fifo {
		delete(in.Attributes, "FifoTopic")
		delete(in.Attributes, "ContentBasedDeduplication")
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTags {
		return nil, awsproto.Errorf(awsproto.SNSTagLimitExceeded, "Could not complete request: tag quota of per resource exceeded")
	}
	type result struct {
		TopicArn string `xml:"TopicArn"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.view.topic(in.Name); ok {
		for k, v := range in.Attributes {
			if t.Attributes[k] != v {
				return nil, invalid("Invalid parameter: Attributes Reason: Topic already exists with different attributes")
			}
		}
		for k, v := range tags {
			if cur, ok := t.Tags[k]; ok && cur != v {
				return nil, invalid("Invalid parameter: Tags Reason: Topic already exists with different tags")
			}
		}
		return result{t.ARN}, nil
	}
	t := &topic{Name: in.Name, ARN: s.arns.Topic(in.Name), Attributes: in.Attributes, Tags: tags}
	if err := s.putTopic(ctx, t); err != nil {
		return nil, awsproto.Internal(err)
	}
	return result{t.ARN}, nil
}

// lookupTopic returns the topic topicARN names, NotFound when there is
// none.
func (s *Service) lookupTopic(topicARN string) (*topic, error) {
	if topicARN == "" {
		return nil, invalid("Invalid parameter: TopicArn")
	}
	name, ok := s.topicName(topicARN)
	if !ok {
		return nil, invalid("Invalid parameter: TopicArn")
	}
	t, ok := s.view.topic(name)
	if !ok {
		return nil, notFound("Topic")
	}
	return t, nil
}

func page[T any](items []T, token string, key func(T) string) ([]T, string) {
	start := 0
	if token != "" {
		start, _ = slices.BinarySearchFunc(items, token, func(it T, tok string) int { return strings.Compare(key(it), tok) })
	}
	items = items[start:]
	if len(items) > pageSize {
		return items[:pageSize], key(items[pageSize])
	}
	return items, ""
}

func (s *Service) listTopics(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	type member struct {
		TopicArn string `xml:"TopicArn"`
	}
	type result struct {
		Topics    []member `xml:"Topics>member"`
		NextToken string   `xml:"NextToken,omitempty"`
	}
	items, next := page(s.view.topicList(), q.Params.Get("NextToken"), func(t *topic) string { return t.ARN })
	out := result{Topics: []member{}, NextToken: next}
	for _, t := range items {
		out.Topics = append(out.Topics, member{t.ARN})
	}
	return out, nil
}

// defaultPolicy is the policy SNS gives a topic created without one: the
// account may do the topic's operations.
func (s *Service) defaultPolicy(t *topic) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},` +
		`"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],` +
		`"Resource":"` + t.ARN + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + s.cfg.Account + `"}}}]}`
}

func (s *Service) getTopicAttributes(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	confirmed, pending := 0, 0
	for _, sub := range s.view.subList(t.ARN) {
		if sub.Pending {
			pending++
		} else {
			confirmed++
		}
	}
	a := map[string]string{
		"TopicArn": t.ARN, "Owner": s.cfg.Account, "DisplayName": "", "Policy": s.defaultPolicy(t),
		"SubscriptionsConfirmed": strconv.Itoa(confirmed), "SubscriptionsPending": strconv.Itoa(pending), "SubscriptionsDeleted": "0",
		"EffectiveDeliveryPolicy": `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`,
	}
	if t.fifo() {
		a["ContentBasedDeduplication"] = "false"
	}
	maps.Copy(a, t.Attributes)
	if a["Policy"] == "" {
		a["Policy"] = s.defaultPolicy(t)
	}
	return struct {
		Attributes attrMap `xml:"Attributes"`
	}{toAttrMap(a)}, nil
}

func (s *Service) setTopicAttributes(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	name, value := q.Params.Get("AttributeName"), q.Params.Get("AttributeValue")
	if name == "FifoTopic" {
		return nil, invalid("Invalid parameter: AttributeName")
	}
	if err := checkTopicAttribute(name, value); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	if name == "ContentBasedDeduplication" && !t.fifo() {
		return nil, invalid("Invalid parameter: Attributes Reason: ContentBasedDeduplication can only be set for FIFO topics")
	}
	nt := *t
	nt.Attributes = maps.Clone(t.Attributes)
	if nt.Attributes == nil {
		nt.Attributes = map[string]string{}
	}
	if value == "" {
		delete(nt.Attributes, name)
	} else {
		nt.Attributes[name] = value
	}
	if err := s.putTopic(ctx, &nt); err != nil {
		return nil, awsproto.Internal(err)
	}
	return nil, nil
}

func (s *Service) deleteTopic(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil && awsproto.AsError(err).Code == awsproto.SNSNotFound {
		return nil, nil // deleting a topic that is gone succeeds, as SNS's does
	}
	if err != nil {
		return nil, err
	}
	for _, sub := range s.view.subList(t.ARN) {
		key, _ := subKey(sub.ARN)
		if err := s.deleteKey(ctx, key); err != nil {
			return nil, awsproto.Internal(err)
		}
	}
	if err := s.deleteKey(ctx, topicKey(t.Name)); err != nil {
		return nil, awsproto.Internal(err)
	}
	return nil, nil
}

// Subscriptions.

// subscriptionAttributes are the attributes a subscription may be
// created or set with.
var subscriptionAttributes = map[string]bool{
	"DeliveryPolicy": true, "FilterPolicy": true, "FilterPolicyScope": true, "RawMessageDelivery": true,
	"RedrivePolicy": true, "SubscriptionRoleArn": true, "ReplayPolicy": true,
}

// checkSubAttributes validates a subscription's attributes as they would
// be with changes applied.
func checkSubAttributes(protocol string, a map[string]string) error {
	if a["RawMessageDelivery"] == "true" && protocol != "sqs" && protocol != "http" && protocol != "https" {
		return invalid("Invalid parameter: Attributes Reason: Delivery protocol [%s] does not support raw message delivery.", protocol)
	}
	for k, v := range a {
		if !subscriptionAttributes[k] {
			return invalid("Invalid parameter: AttributeName")
		}
		switch k {
		case "RawMessageDelivery":
			if v != "true" && v != "false" {
				return invalid("Invalid parameter: RawMessageDelivery: Invalid value [%s]. Must be true or false.", clip(v))
			}
		case "FilterPolicyScope":
			if v != "MessageAttributes" && v != "MessageBody" {
				return invalid("Invalid parameter: FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", clip(v))
			}
		case "RedrivePolicy":
			var rp struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			}
			if err := json.Unmarshal([]byte(v), &rp); err != nil {
				return invalid("Invalid parameter: RedrivePolicy: failed to parse JSON.")
			}
			if !strings.HasPrefix(rp.DeadLetterTargetArn, "arn:aws:sqs:") {
				return invalid("Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn")
			}
		case "DeliveryPolicy":
			if _, _, reason := parseRetryPolicy(v, false); reason != "" {
				return invalid("Invalid parameter: DeliveryPolicy: %s", reason)
			}
		}
	}
	if _, err := compileFilter(a["FilterPolicy"], a["FilterPolicyScope"]); err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			if strings.HasPrefix(pe.Reason, "Filter policy scope") {
				return invalid("Invalid parameter: %s", pe.Reason)
			}
			return invalid("Invalid parameter: FilterPolicy: %s", pe.Reason)
		}
		return awsproto.Internal(err)
	}
	return nil
}

// checkEndpoint validates a subscription's endpoint for its protocol.
func (s *Service) checkEndpoint(protocol, endpoint string) error {
	switch protocol {
	case "lambda":
		// This server's functions only: it has one region and account.
		if _, err := functionRef(endpoint); err != nil || !strings.HasPrefix(endpoint, "arn:aws:lambda:"+s.cfg.Region+":"+s.cfg.Account+":function:") {
			return invalid("Invalid parameter: Lambda endpoint ARN")
		}
	case "sqs":
		if !strings.HasPrefix(endpoint, "arn:aws:sqs:") || strings.Count(endpoint, ":") != 5 {
			return invalid("Invalid parameter: SQS endpoint ARN")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalid("Invalid parameter: Endpoint must match the specified protocol")
		}
	case "":
		return invalid("Invalid parameter: Protocol")
	default:
		return invalid("Invalid parameter: Amazon SNS does not support this protocol string: %s", clip(protocol))
	}
	return nil
}

// newID is a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newToken() string {
	var b [64]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const pendingARN = "pending confirmation"

func (s *Service) subscribe(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		TopicArn, Protocol, Endpoint string
		Attributes                   map[string]string
		ReturnSubscriptionArn        bool
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := s.checkEndpoint(in.Protocol, in.Endpoint); err != nil {
		return nil, err
	}
	if err := checkSubAttributes(in.Protocol, in.Attributes); err != nil {
		return nil, err
	}
	type result struct {
		SubscriptionArn string `xml:"SubscriptionArn"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(in.TopicArn)
	if err != nil {
		return nil, err
	}
	if t.fifo() && in.Protocol != "sqs" {
		return nil, invalid("Invalid parameter: Invalid protocol type: %s. FIFO topics deliver only to Amazon SQS queues.", clip(in.Protocol))
	}
	for _, sub := range s.view.subList(t.ARN) {
		if sub.Protocol == in.Protocol && sub.Endpoint == in.Endpoint {
			for k, v := range in.Attributes {
				if sub.Attributes[k] != v {
					return nil, invalid("Invalid parameter: Attributes Reason: Subscription already exists with different attributes")
				}
			}
			if sub.Pending && !in.ReturnSubscriptionArn {
				return result{pendingARN}, nil
			}
			return result{sub.ARN}, nil
		}
	}
	sub := &subscription{ARN: t.ARN + ":" + newID(), TopicARN: t.ARN, Protocol: in.Protocol, Endpoint: in.Endpoint,
		Owner: s.cfg.Account, Attributes: in.Attributes}
	if in.Protocol == "http" || in.Protocol == "https" {
		sub.Pending, sub.Token = true, newToken()
	}
	if err := s.putSub(ctx, sub); err != nil {
		return nil, awsproto.Internal(err)
	}
	if sub.Pending {
		if err := s.enqueueConfirmation(ctx, sub); err != nil {
			return nil, awsproto.Internal(err)
		}
		if !in.ReturnSubscriptionArn {
			return result{pendingARN}, nil
		}
	}
	return result{sub.ARN}, nil
}

func (s *Service) confirmSubscription(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	token := q.Params.Get("Token")
	if token == "" {
		return nil, invalid("Invalid parameter: Token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	for _, sub := range s.view.subList(t.ARN) {
		if sub.Token != token {
			continue
		}
		if sub.Pending {
			ns := *sub
			ns.Pending = false
			if err := s.putSub(ctx, &ns); err != nil {
				return nil, awsproto.Internal(err)
			}
		}
		return struct {
			SubscriptionArn string `xml:"SubscriptionArn"`
		}{sub.ARN}, nil
	}
	return nil, invalid("Invalid token")
}

// lookupSub returns the subscription subARN names.
func (s *Service) lookupSub(subARN string) (*subscription, error) {
	if _, ok := subKey(subARN); !ok || !strings.HasPrefix(subARN, s.arns.Topic("")) {
		return nil, invalid("Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not %d", strings.Count(subARN, ":")+1)
	}
	sub, ok := s.view.sub(subARN)
	if !ok {
		return nil, notFound("Subscription")
	}
	return sub, nil
}

func (s *Service) unsubscribe(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, err := s.lookupSub(q.Params.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	key, _ := subKey(sub.ARN)
	if err := s.deleteKey(ctx, key); err != nil {
		return nil, awsproto.Internal(err)
	}
	return nil, nil
}

type subMember struct {
	SubscriptionArn string `xml:"SubscriptionArn"`
	Owner           string `xml:"Owner"`
	Protocol        string `xml:"Protocol"`
	Endpoint        string `xml:"Endpoint"`
	TopicArn        string `xml:"TopicArn"`
}

type subsResult struct {
	Subscriptions []subMember `xml:"Subscriptions>member"`
	NextToken     string      `xml:"NextToken,omitempty"`
}

func listSubs(subs []*subscription, token string) subsResult {
	items, next := page(subs, token, func(sub *subscription) string { return sub.ARN })
	out := subsResult{Subscriptions: []subMember{}, NextToken: next}
	for _, sub := range items {
		a := sub.ARN
		if sub.Pending {
			a = "PendingConfirmation"
		}
		out.Subscriptions = append(out.Subscriptions, subMember{a, sub.Owner, sub.Protocol, sub.Endpoint, sub.TopicARN})
	}
	return out
}

func (s *Service) listSubscriptions(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	return listSubs(s.view.subList(""), q.Params.Get("NextToken")), nil
}

func (s *Service) listSubscriptionsByTopic(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	return listSubs(s.view.subList(t.ARN), q.Params.Get("NextToken")), nil
}

func (s *Service) getSubscriptionAttributes(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	sub, err := s.lookupSub(q.Params.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	a := map[string]string{
		"SubscriptionArn": sub.ARN, "TopicArn": sub.TopicARN, "Owner": sub.Owner, "Protocol": sub.Protocol, "Endpoint": sub.Endpoint,
		"PendingConfirmation": strconv.FormatBool(sub.Pending), "ConfirmationWasAuthenticated": strconv.FormatBool(!sub.Pending),
		"RawMessageDelivery": "false", "SubscriptionPrincipal": "arn:aws:iam::" + s.cfg.Account + ":root",
	}
	maps.Copy(a, sub.Attributes)
	if a["FilterPolicy"] != "" && a["FilterPolicyScope"] == "" {
		a["FilterPolicyScope"] = "MessageAttributes"
	}
	return struct {
		Attributes attrMap `xml:"Attributes"`
	}{toAttrMap(a)}, nil
}

func (s *Service) setSubscriptionAttributes(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	name, value := q.Params.Get("AttributeName"), q.Params.Get("AttributeValue")
	if !subscriptionAttributes[name] {
		return nil, invalid("Invalid parameter: AttributeName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, err := s.lookupSub(q.Params.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	ns := *sub
	ns.Attributes = maps.Clone(sub.Attributes)
	if ns.Attributes == nil {
		ns.Attributes = map[string]string{}
	}
	if value == "" && (name == "FilterPolicy" || name == "RedrivePolicy" || name == "DeliveryPolicy") {
		delete(ns.Attributes, name)
	} else {
		ns.Attributes[name] = value
	}
	if err := checkSubAttributes(ns.Protocol, ns.Attributes); err != nil {
		return nil, err
	}
	if err := s.putSub(ctx, &ns); err != nil {
		return nil, awsproto.Internal(err)
	}
	return nil, nil
}

// Tags.

func (s *Service) tagTopic(resourceARN string) (*topic, error) {
	name, ok := s.topicName(resourceARN)
	if !ok {
		return nil, invalid("Invalid parameter: ResourceArn")
	}
	t, ok := s.view.topic(name)
	if !ok {
		return nil, awsproto.Errorf(awsproto.SNSResourceNotFound, "Resource does not exist")
	}
	return t, nil
}

func (s *Service) tagResource(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		ResourceArn string
		Tags        []struct{ Key, Value string }
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tagTopic(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	nt := *t
	nt.Tags = maps.Clone(t.Tags)
	if nt.Tags == nil {
		nt.Tags = map[string]string{}
	}
	maps.Copy(nt.Tags, tags)
	if len(nt.Tags) > maxTags {
		return nil, awsproto.Errorf(awsproto.SNSTagLimitExceeded, "Could not complete request: tag quota of per resource exceeded")
	}
	if err := s.putTopic(ctx, &nt); err != nil {
		return nil, awsproto.Internal(err)
	}
	return struct{}{}, nil
}

func (s *Service) untagResource(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		ResourceArn string
		TagKeys     []string
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tagTopic(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	nt := *t
	nt.Tags = maps.Clone(t.Tags)
	for _, k := range in.TagKeys {
		delete(nt.Tags, k)
	}
	if err := s.putTopic(ctx, &nt); err != nil {
		return nil, awsproto.Internal(err)
	}
	return struct{}{}, nil
}

func (s *Service) listTagsForResource(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	t, err := s.tagTopic(q.Params.Get("ResourceArn"))
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags []tag `xml:"Tags>member"`
	}{Tags: []tag{}}
	for _, k := range slices.Sorted(maps.Keys(t.Tags)) {
		out.Tags = append(out.Tags, tag{k, t.Tags[k]})
	}
	return out, nil
}
