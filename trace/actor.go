package trace

import (
	"slices"
	"strings"
	"time"
)

// Role is what a user may do within its party.
type Role string

// Roles.
const (
	RoleProducerAdmin Role = "producer_admin" // manages the party's users, sites and products, and records events
	RoleProducerClerk Role = "producer_clerk" // records events
	RoleLogistics     Role = "logistics"      // records storage and custody of lots it holds
	RolePlatform      Role = "platform"       // links orders (sales platforms)
	RoleInspector     Role = "inspector"      // reads everything in its jurisdiction, records sampling
	RoleAdmin         Role = "admin"          // operates the system: parties and accounts
)

var roles = map[Role]bool{RoleProducerAdmin: true, RoleProducerClerk: true, RoleLogistics: true, RolePlatform: true, RoleInspector: true, RoleAdmin: true}

// User is an account of a party.
type User struct {
	ID           int64
	PartyID      int64
	Username     string
	Name         string
	Roles        []Role
	PasswordHash string // argon2id, PHC string format
	Created      time.Time
}

// Actor is the authenticated principal a service call acts for.
type Actor struct {
	UserID  int64
	PartyID int64
	Roles   []Role
}

// Has reports whether the actor holds any of rs.
func (a Actor) Has(rs ...Role) bool {
	for _, r := range rs {
		if slices.Contains(a.Roles, r) {
			return true
		}
	}
	return false
}

// ReadsAll reports whether the actor may read every party's private data.
func (a Actor) ReadsAll() bool { return a.Has(RoleAdmin, RoleInspector) }

// ParseRoles parses a comma-separated role list.
func ParseRoles(s string) ([]Role, error) {
	var rs []Role
	for _, f := range strings.Split(s, ",") {
		r := Role(strings.TrimSpace(f))
		if !roles[r] {
			return nil, Invalid("roles", "unknown_role", "角色无效：%q", "unknown role %q", r)
		}
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// JoinRoles formats roles as a comma-separated list.
func JoinRoles(rs []Role) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, ",")
}

func (a Actor) mustHave(rs ...Role) error {
	if a.Has(rs...) {
		return nil
	}
	return Forbidden("", "当前角色无权执行此操作", "your role does not allow this")
}
