package iam

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	iampolicy "github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/store"
)

// DirectoryConfig configures a Directory.
type DirectoryConfig struct {
	// KV is the natsd.IAMBucket bucket.
	KV store.KV
	// Issuer seals and opens the stored secret access keys and derives
	// the roles' ids (token.Issuer.RoleID), so that a role's id is the
	// one its sessions carry.
	Issuer *token.Issuer
	// Partition ("aws" when empty) and Account are this server's.
	Partition, Account string
	// Logger receives documents that do not decode; nil discards.
	Logger *slog.Logger
}

// Directory is IAM's state as the rest of Kumo reads it: an in-memory
// view of the bucket that a KV watch keeps current. It implements
// authz.Directory; its methods are safe for concurrent use, never block
// on I/O and allocate nothing.
type Directory struct {
	cfg    DirectoryConfig
	log    *slog.Logger
	kv     store.KV
	sealer cipher.AEAD

	mu      sync.Mutex // serialises apply and rebuild
	revs    map[string]uint64
	docs    map[string]any // key → *user, *group, *role, *policy
	loading bool           // the initial values are arriving: rebuild once at the end
	snap    atomic.Pointer[snapshot]

	cancel context.CancelFunc
	done   sync.WaitGroup
}

var (
	_ authz.Directory       = (*Directory)(nil)
	_ authz.ManagedPolicies = (*Directory)(nil)
)

// snapshot is one immutable state of the view. Nothing in it is changed
// after it is published: a change builds a new one.
type snapshot struct {
	users    map[string]*user // lower-case name →
	groups   map[string]*group
	roles    map[string]*role
	policies map[string]*policy
	// members are each group's users, by lower-case group name.
	members map[string][]*user
	// attachments counts the users, groups and roles a managed policy
	// (customer or AWS) is attached to, by ARN.
	attachments map[string]int
	// boundaries counts the users and roles a managed policy is the
	// permissions boundary of, by ARN.
	boundaries map[string]int
	// keyOwner is the user of every access key, active or not.
	keyOwner map[string]string

	keys       map[string]keyEntry // active keys only
	principals map[string]principalEntry
	roleByARN  map[string]authz.Role
	parsed     map[string]*iampolicy.Policy // parse cache: name + "\x00" + document →
	secrets    map[string]string            // opened secrets by key id
}

type keyEntry struct {
	secret string
	id     awsproto.Identity
}

type principalEntry struct {
	userID string // "" for roles
	p      authz.Principal
}

// OpenDirectory loads the view from the bucket and starts the watch that
// keeps it current; it returns once the view holds everything the bucket
// held.
func OpenDirectory(ctx context.Context, cfg DirectoryConfig) (*Directory, error) {
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.Issuer == nil {
		return nil, fmt.Errorf("iam: a directory needs the token issuer")
	}
	d := &Directory{cfg: cfg, log: cfg.Logger, kv: cfg.KV, sealer: cfg.Issuer.StoredSecrets(),
		revs: map[string]uint64{}, docs: map[string]any{}, loading: true}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.snap.Store(&snapshot{})
	wctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	ch, err := d.kv.Watch(wctx, "")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("iam: watch: %w", err)
	}
	for e := range ch {
		if e.Key == "" {
			break
		}
		d.apply(e)
	}
	if err := ctx.Err(); err != nil {
		cancel()
		return nil, err
	}
	d.mu.Lock()
	d.loading = false
	d.rebuild()
	d.mu.Unlock()
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		for e := range ch {
			if e.Key != "" {
				d.apply(e)
			}
		}
	}()
	return d, nil
}

// Close stops the watch.
func (d *Directory) Close() {
	d.cancel()
	d.done.Wait()
}

// apply puts one store entry into the view unless the view already has
// that key at the same or a later revision, and publishes a new snapshot.
func (d *Directory) apply(e store.Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Revision <= d.revs[e.Key] {
		return
	}
	d.revs[e.Key] = e.Revision
	if e.Deleted {
		delete(d.docs, e.Key)
	} else {
		var doc any
		switch {
		case strings.HasPrefix(e.Key, userPrefix):
			doc = new(user)
		case strings.HasPrefix(e.Key, groupPrefix):
			doc = new(group)
		case strings.HasPrefix(e.Key, rolePrefix):
			doc = new(role)
		case strings.HasPrefix(e.Key, policyPrefix):
			doc = new(policy)
		default:
			return
		}
		if err := json.Unmarshal(e.Value, doc); err != nil {
			d.log.Error("iam: undecodable document", "key", e.Key, "error", err)
			return
		}
		d.docs[e.Key] = doc
	}
	if !d.loading {
		d.rebuild()
	}
}

// view is the current snapshot.
func (d *Directory) view() *snapshot { return d.snap.Load() }

// entityARN is arn:PARTITION:iam::ACCOUNT:KIND/PATH…NAME.
func (d *Directory) entityARN(kind, path, name string) string {
	return arn.ARN{Partition: d.cfg.Partition, Service: "iam", Account: d.cfg.Account, Resource: kind + path + name}.String()
}

func (d *Directory) userARN(u *user) string     { return d.entityARN("user", u.Path, u.Name) }
func (d *Directory) groupARN(g *group) string   { return d.entityARN("group", g.Path, g.Name) }
func (d *Directory) roleARN(r *role) string     { return d.entityARN("role", r.Path, r.Name) }
func (d *Directory) policyARN(p *policy) string { return d.entityARN("policy", p.Path, p.Name) }

// rebuild publishes a snapshot of d.docs. Called with mu held. Policies
// are parsed and secrets opened only when the previous snapshot did not
// already hold them.
func (d *Directory) rebuild() {
	old := d.snap.Load()
	s := &snapshot{
		users: map[string]*user{}, groups: map[string]*group{}, roles: map[string]*role{}, policies: map[string]*policy{},
		members: map[string][]*user{}, attachments: map[string]int{}, boundaries: map[string]int{}, keyOwner: map[string]string{},
		keys: map[string]keyEntry{}, principals: map[string]principalEntry{}, roleByARN: map[string]authz.Role{},
		parsed: map[string]*iampolicy.Policy{}, secrets: map[string]string{},
	}
	for _, doc := range d.docs {
		switch v := doc.(type) {
		case *user:
			s.users[strings.ToLower(v.Name)] = v
			for _, g := range v.Groups {
				s.members[strings.ToLower(g)] = append(s.members[strings.ToLower(g)], v)
			}
			for _, a := range v.Attached {
				s.attachments[a]++
			}
			if v.Boundary != "" {
				s.boundaries[v.Boundary]++
			}
		case *group:
			s.groups[strings.ToLower(v.Name)] = v
			for _, a := range v.Attached {
				s.attachments[a]++
			}
		case *role:
			s.roles[strings.ToLower(v.Name)] = v
			for _, a := range v.Attached {
				s.attachments[a]++
			}
			if v.Boundary != "" {
				s.boundaries[v.Boundary]++
			}
		case *policy:
			s.policies[strings.ToLower(v.Name)] = v
		}
	}
	parse := func(name, doc string, kind iampolicy.Kind) *iampolicy.Policy {
		k := name + "\x00" + doc
		if p := s.parsed[k]; p != nil {
			return p
		}
		p := old.parsed[k]
		if p == nil {
			var err error
			if p, err = iampolicy.Parse(doc, kind); err != nil {
				// Documents are validated on write; one that no
				// longer parses allows nothing.
				d.log.Error("iam: stored policy does not parse", "policy", name, "error", err)
				p = &iampolicy.Policy{Kind: kind}
			}
			p.Name = name
		}
		s.parsed[k] = p
		return p
	}
	managed := func(policyARN string) *iampolicy.Policy {
		if m := awsManaged(policyARN); m != nil {
			return parse(policyARN, m.document, iampolicy.KindIdentity)
		}
		p := s.policyByARN(d, policyARN)
		if p == nil {
			return nil
		}
		return parse(policyARN, p.defaultDocument(), iampolicy.KindIdentity)
	}
	boundary := func(policyARN string) *iampolicy.Policy {
		if policyARN == "" {
			return nil
		}
		if p := managed(policyARN); p != nil {
			return p
		}
		return denyAll // a boundary that is gone allows nothing
	}
	collect := func(out []*iampolicy.Policy, owner string, inline map[string]string, attached []string) []*iampolicy.Policy {
		for _, name := range slices.Sorted(maps.Keys(inline)) {
			out = append(out, parse("inline:"+owner+"/"+name, inline[name], iampolicy.KindIdentity))
		}
		for _, a := range attached {
			if p := managed(a); p != nil {
				out = append(out, p)
			}
		}
		return out
	}
	for _, u := range s.users {
		uarn := d.userARN(u)
		var ps []*iampolicy.Policy
		ps = collect(ps, "user/"+u.Name, u.Inline, u.Attached)
		for _, gn := range u.Groups {
			if g := s.groups[strings.ToLower(gn)]; g != nil {
				ps = collect(ps, "group/"+g.Name, g.Inline, g.Attached)
			}
		}
		s.principals[uarn] = principalEntry{userID: u.ID, p: authz.Principal{Policies: ps, Boundary: boundary(u.Boundary), Tags: tagMap(u.Tags)}}
		id := awsproto.Identity{Account: d.cfg.Account, ARN: uarn, UserID: u.ID}
		for _, k := range u.Keys {
			s.keyOwner[k.ID] = u.Name
			secret, ok := old.secrets[k.ID]
			if !ok {
				var err error
				if secret, err = d.open(k); err != nil {
					d.log.Error("iam: a stored secret does not open with this node key", "accessKeyId", k.ID, "error", err)
					continue
				}
			}
			s.secrets[k.ID] = secret
			if k.Status == statusActive {
				s.keys[k.ID] = keyEntry{secret: secret, id: id}
			}
		}
	}
	for _, r := range s.roles {
		rarn := d.roleARN(r)
		tags := tagMap(r.Tags)
		s.principals[rarn] = principalEntry{p: authz.Principal{Policies: collect(nil, "role/"+r.Name, r.Inline, r.Attached), Boundary: boundary(r.Boundary), Tags: tags}}
		s.roleByARN[rarn] = authz.Role{ARN: rarn, ID: r.ID, Trust: parse("trust:"+r.Name, r.Trust, iampolicy.KindTrust),
			MaxSession: time.Duration(r.MaxSession) * time.Second, Tags: tags}
	}
	d.snap.Store(s)
}

// denyAll is the boundary of an entity whose boundary policy is gone.
var denyAll = &iampolicy.Policy{Name: "missing-permissions-boundary", Kind: iampolicy.KindIdentity}

func tagMap(tags []Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// policyByARN is the customer managed policy with that ARN, nil if none.
func (s *snapshot) policyByARN(d *Directory, policyARN string) *policy {
	i := strings.LastIndexByte(policyARN, '/')
	if i < 0 {
		return nil
	}
	p := s.policies[strings.ToLower(policyARN[i+1:])]
	if p == nil || d.policyARN(p) != policyARN {
		return nil
	}
	return p
}

// seal seals a new secret for key id.
func (d *Directory) seal(id, secret string) []byte {
	nonce := make([]byte, d.sealer.NonceSize(), d.sealer.NonceSize()+len(secret)+d.sealer.Overhead())
	rand.Read(nonce)
	return d.sealer.Seal(nonce, nonce, []byte(secret), []byte(id))
}

func (d *Directory) open(k accessKey) (string, error) {
	n := d.sealer.NonceSize()
	if len(k.Sealed) < n {
		return "", fmt.Errorf("sealed secret of %d bytes", len(k.Sealed))
	}
	plain, err := d.sealer.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte(k.ID))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// AccessKey implements authz.Directory: an active key of an existing user.
func (d *Directory) AccessKey(accessKeyID string) (string, awsproto.Identity, bool) {
	k, ok := d.snap.Load().keys[accessKeyID]
	return k.secret, k.id, ok
}

// Principal implements authz.Directory. An identity of a user that was
// deleted (or deleted and made again: the user id differs) is not found;
// neither is the account root, which no policy limits.
func (d *Directory) Principal(id awsproto.Identity) (authz.Principal, bool) {
	s := d.snap.Load()
	if id.RoleARN != "" {
		e, ok := s.principals[id.RoleARN]
		return e.p, ok && e.userID == ""
	}
	e, ok := s.principals[id.ARN]
	if !ok || e.userID == "" || (id.UserID != "" && id.UserID != e.userID) {
		return authz.Principal{}, false
	}
	return e.p, true
}

// Role implements authz.Directory.
func (d *Directory) Role(roleARN string) (authz.Role, bool) {
	r, ok := d.snap.Load().roleByARN[roleARN]
	return r, ok
}

// ManagedPolicy implements authz.ManagedPolicies: the default version's
// document of a managed policy (an AWS managed one or the account's), for
// the PolicyArns of sts:AssumeRole.
func (d *Directory) ManagedPolicy(policyARN string) (string, bool) {
	if m := awsManaged(policyARN); m != nil {
		return m.document, true
	}
	if p := d.snap.Load().policyByARN(d, policyARN); p != nil {
		return p.defaultDocument(), true
	}
	return "", false
}
