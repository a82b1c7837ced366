package kms

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// maxGrants bounds the grants of one key (AWS allows 50,000 per key;
// Kumo keeps grants in the key's record, so fewer).
const maxGrants = 1000

func (s *Service) createGrant(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID             string       `json:"KeyId"`
		GranteePrincipal  string       `json:"GranteePrincipal"`
		RetiringPrincipal string       `json:"RetiringPrincipal"`
		Operations        []string     `json:"Operations"`
		Constraints       *constraints `json:"Constraints"`
		GrantTokens       []string     `json:"GrantTokens"`
		Name              string       `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.GranteePrincipal == "" {
		return nil, validation("null", "granteePrincipal", "Member must not be null")
	}
	if len(in.Operations) == 0 {
		return nil, validation("null", "operations", "Member must not be null")
	}
	for _, o := range in.Operations {
		if !slices.Contains(grantOperations, o) {
			return nil, validation(o, "operations", "Member must satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(grantOperations, ", ")+"]]")
		}
	}
	if c := in.Constraints; c != nil && c.EncryptionContextEquals != nil && c.EncryptionContextSubset != nil {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "Constraints can contain either EncryptionContextEquals or EncryptionContextSubset, not both.")
	}
	if err := checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := notPending(k); err != nil {
		return nil, err
	}
	g := grant{ID: hex.EncodeToString(random(32)), Name: in.Name, Grantee: in.GranteePrincipal, Retiring: in.RetiringPrincipal,
		Issuing: "arn:" + s.cfg.Partition + ":iam::" + s.cfg.Account + ":root", Operations: in.Operations,
		Constraints: in.Constraints, Created: epoch(s.cfg.Now())}
	g.Token = grantToken(g.ID)
	var out grant
	err = s.change(ctx, r, k.rec.KeyID, "kms:CreateGrant", func(rec *keyRecord) error {
		// A grant with the same name and the same contents is the same
		// grant (CreateGrant is idempotent by Name).
		if g.Name != "" {
			for _, old := range rec.Grants {
				if old.Name == g.Name && old.Grantee == g.Grantee && slices.Equal(sorted(old.Operations), sorted(g.Operations)) {
					out = old
					return nil
				}
			}
		}
		if len(rec.Grants) >= maxGrants {
			return awsproto.Errorf(awsproto.KMSLimitExceeded, "Too many grants on %s.", rec.Arn)
		}
		rec.Grants = append(rec.Grants, g)
		out = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"GrantId": out.ID, "GrantToken": out.Token}, nil
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// grantToken is a grant's token: it names the grant; Kumo's grants are
// effective at once, so a token is only checked for its form.
func grantToken(id string) string {
	sum := sha256.Sum256([]byte("kumo-kms-grant:" + id))
	return base64.RawURLEncoding.EncodeToString(append([]byte(id), sum[:16]...))
}

func checkGrantTokens(ts []string) error {
	if len(ts) > 10 {
		return validation("[...]", "grantTokens", "Member must have length less than or equal to 10")
	}
	for _, t := range ts {
		if t == "" || len(t) > 8192 {
			return awsproto.Errorf(awsproto.KMSInvalidGrantToken, "Invalid grant token.")
		}
	}
	return nil
}

// grantShape is the GrantListEntry shape.
type grantShape struct {
	KeyID             string       `json:"KeyId"`
	GrantID           string       `json:"GrantId"`
	Name              string       `json:"Name,omitempty"`
	CreationDate      float64      `json:"CreationDate"`
	GranteePrincipal  string       `json:"GranteePrincipal"`
	RetiringPrincipal string       `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string       `json:"IssuingAccount"`
	Operations        []string     `json:"Operations"`
	Constraints       *constraints `json:"Constraints,omitempty"`
}

func shape(k *key, g *grant) grantShape {
	return grantShape{KeyID: k.rec.Arn, GrantID: g.ID, Name: g.Name, CreationDate: g.Created, GranteePrincipal: g.Grantee,
		RetiringPrincipal: g.Retiring, IssuingAccount: g.Issuing, Operations: g.Operations, Constraints: g.Constraints}
}

func (s *Service) listGrants(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		page
		KeyID            string `json:"KeyId"`
		GrantID          string `json:"GrantId"`
		GranteePrincipal string `json:"GranteePrincipal"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:ListGrants", k, nil); err != nil {
		return nil, err
	}
	var gs []grantShape
	for i := range k.rec.Grants {
		g := &k.rec.Grants[i]
		if in.GrantID != "" && g.ID != in.GrantID || in.GranteePrincipal != "" && g.Grantee != in.GranteePrincipal {
			continue
		}
		gs = append(gs, shape(k, g))
	}
	return grantPage(in.page, gs)
}

func grantPage(p page, gs []grantShape) (any, error) {
	slices.SortFunc(gs, func(a, b grantShape) int { return strings.Compare(a.GrantID, b.GrantID) })
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.GrantID
	}
	from, to, next, err := p.window(names, 50)
	if err != nil {
		return nil, err
	}
	return pageOut(map[string]any{"Grants": append([]grantShape{}, gs[from:to]...)}, next), nil
}

func (s *Service) listRetirableGrants(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		page
		RetiringPrincipal string `json:"RetiringPrincipal"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.RetiringPrincipal == "" {
		return nil, validation("null", "retiringPrincipal", "Member must not be null")
	}
	if err := s.authorizeAccount(r, "ListRetirableGrants"); err != nil {
		return nil, err
	}
	s.vmu.RLock()
	var gs []grantShape
	for _, k := range s.keys {
		if k.gone {
			continue
		}
		for i := range k.rec.Grants {
			if k.rec.Grants[i].Retiring == in.RetiringPrincipal {
				gs = append(gs, shape(k, &k.rec.Grants[i]))
			}
		}
	}
	s.vmu.RUnlock()
	return grantPage(in.page, gs)
}

// findGrant finds a grant by its token, or by key and id.
func (s *Service) findGrant(token, keyID, grantID string) (*key, *grant, error) {
	if token != "" {
		s.vmu.RLock()
		defer s.vmu.RUnlock()
		for _, k := range s.keys {
			if k.gone {
				continue
			}
			for i := range k.rec.Grants {
				if k.rec.Grants[i].Token == token {
					return k, &k.rec.Grants[i], nil
				}
			}
		}
		return nil, nil, awsproto.Errorf(awsproto.KMSInvalidGrantToken, "Grant token is invalid or the grant does not exist.")
	}
	if grantID == "" {
		return nil, nil, awsproto.Errorf(awsproto.KMSValidation, "Either GrantToken or both KeyId and GrantId are required.")
	}
	k, err := s.resolve(keyID)
	if err != nil {
		return nil, nil, err
	}
	for i := range k.rec.Grants {
		if k.rec.Grants[i].ID == grantID {
			return k, &k.rec.Grants[i], nil
		}
	}
	return nil, nil, awsproto.Errorf(awsproto.KMSNotFound, "Grant ID %s not found", grantID)
}

// dropGrant removes grant id from key k.
func (s *Service) dropGrant(ctx context.Context, k *key, id string) error {
	err := s.update(ctx, k.rec.KeyID, func(rec *keyRecord) error {
		rec.Grants = slices.DeleteFunc(rec.Grants, func(g grant) bool { return g.ID == id })
		return nil
	})
	if err != nil {
		return awsproto.Internal(err)
	}
	return nil
}

func (s *Service) retireGrant(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		GrantToken string `json:"GrantToken"`
		KeyID      string `json:"KeyId"`
		GrantID    string `json:"GrantId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, g, err := s.findGrant(in.GrantToken, in.KeyID, in.GrantID)
	if err != nil {
		return nil, err
	}
	// The retiring principal, or the grantee when the grant allows
	// RetireGrant, may retire a grant; so may whom the key policy allows
	// kms:RetireGrant.
	if s.cfg.Authorizer != nil {
		c, _ := awsproto.CallerFrom(ctx)
		who := []string{c.Identity.ARN, c.Identity.RoleARN}
		mayRetire := g.Retiring != "" && slices.Contains(who, g.Retiring) ||
			slices.Contains(who, g.Grantee) && slices.Contains(g.Operations, "RetireGrant")
		if !mayRetire {
			if err := s.authorize(ctx, r, "kms:RetireGrant", k, nil); err != nil {
				return nil, err
			}
		}
	}
	return nil, s.dropGrant(ctx, k, g.ID)
}

func (s *Service) revokeGrant(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID   string `json:"KeyId"`
		GrantID string `json:"GrantId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.GrantID == "" {
		return nil, validation("null", "grantId", "Member must not be null")
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:RevokeGrant", k, nil); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(k.rec.Grants, func(g grant) bool { return g.ID == in.GrantID }) {
		return nil, awsproto.Errorf(awsproto.KMSNotFound, "Grant ID %s not found", in.GrantID)
	}
	return nil, s.dropGrant(ctx, k, in.GrantID)
}
