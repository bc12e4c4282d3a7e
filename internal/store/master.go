package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/trace"
)

const partyCols = `id, kind, name, uscc, county, contact, created`

func scanParty(r sqldb.Row) (*trace.Party, error) {
	var p trace.Party
	var created int64
	err := r.Scan(&p.ID, &p.Kind, &p.Name, &p.USCC, &p.County, &p.Contact, &created)
	p.Created = fromMicros(created)
	return &p, err
}

func (q queries) Party(ctx context.Context, id int64) (*trace.Party, error) {
	p, err := scanParty(q.c.QueryRow(ctx, `SELECT `+partyCols+` FROM parties WHERE id = $1`, id))
	return p, notFound(err, "party", id)
}

func (q queries) Parties(ctx context.Context, pg trace.Page) ([]trace.Party, error) {
	after, n := limit(pg)
	return list(ctx, q.c, scanParty, `SELECT `+partyCols+` FROM parties WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
}

func (q queries) CreateParty(ctx context.Context, p *trace.Party) error {
	err := q.c.QueryRow(ctx, `INSERT INTO parties (kind, name, uscc, county, contact, created) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		p.Kind, p.Name, p.USCC, p.County, p.Contact, micros(p.Created)).Scan(&p.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("uscc", "duplicate_uscc", "该统一社会信用代码已登记", "a party with this unified social credit code exists")
	}
	return err
}

func (q queries) CreateUser(ctx context.Context, u *trace.User) error {
	err := q.c.QueryRow(ctx, `INSERT INTO users (party_id, username, name, roles, password_hash, created) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.PartyID, u.Username, u.Name, trace.JoinRoles(u.Roles), u.PasswordHash, micros(u.Created)).Scan(&u.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("username", "duplicate_username", "用户名已存在", "the username is taken")
	}
	return err
}

func (q queries) CreateToken(ctx context.Context, userID int64, name string, hash []byte) error {
	_, err := q.c.Exec(ctx, `INSERT INTO tokens (hash, user_id, name, created) VALUES ($1, $2, $3, $4)`, hash, userID, name, micros(time.Now()))
	return err
}

func (q queries) DeleteToken(ctx context.Context, hash []byte) error {
	_, err := q.c.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash)
	return err
}

// UserByName returns a user with its password hash.
func (s *Store) UserByName(ctx context.Context, username string) (*trace.User, error) {
	var u trace.User
	var roles string
	var created int64
	err := s.db.QueryRow(ctx, `SELECT id, party_id, username, name, roles, password_hash, created FROM users WHERE username = $1`, username).
		Scan(&u.ID, &u.PartyID, &u.Username, &u.Name, &roles, &u.PasswordHash, &created)
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	u.Created = fromMicros(created)
	u.Roles, err = trace.ParseRoles(roles)
	return &u, err
}

// ActorByToken returns the actor of a token hash.
func (s *Store) ActorByToken(ctx context.Context, hash []byte) (trace.Actor, error) {
	var a trace.Actor
	var roles string
	err := s.db.QueryRow(ctx, `SELECT u.id, u.party_id, u.roles FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1`, hash).
		Scan(&a.UserID, &a.PartyID, &roles)
	if err != nil {
		return a, notFound(err, "token", "")
	}
	a.Roles, err = trace.ParseRoles(roles)
	return a, err
}

const siteCols = `id, party_id, kind, name, county, town, area_mu, lat, lon, COALESCE(gln, ''), created`

func scanSite(r sqldb.Row) (*trace.Site, error) {
	var s trace.Site
	var created int64
	err := r.Scan(&s.ID, &s.PartyID, &s.Kind, &s.Name, &s.County, &s.Town, &s.AreaMu, &s.Lat, &s.Lon, &s.GLN, &created)
	s.Created = fromMicros(created)
	return &s, err
}

func (q queries) Site(ctx context.Context, id int64) (*trace.Site, error) {
	s, err := scanSite(q.c.QueryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE id = $1`, id))
	return s, notFound(err, "site", id)
}

func (q queries) Sites(ctx context.Context, partyID int64, pg trace.Page) ([]trace.Site, error) {
	after, n := limit(pg)
	if partyID == 0 {
		return list(ctx, q.c, scanSite, `SELECT `+siteCols+` FROM sites WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
	}
	return list(ctx, q.c, scanSite, `SELECT `+siteCols+` FROM sites WHERE party_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2`, after, n, partyID)
}

func (q queries) CreateSite(ctx context.Context, s *trace.Site) error {
	err := q.c.QueryRow(ctx, `INSERT INTO sites (party_id, kind, name, county, town, area_mu, lat, lon, gln, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		s.PartyID, s.Kind, s.Name, s.County, s.Town, s.AreaMu, s.Lat, s.Lon, nullable(s.GLN), micros(s.Created)).Scan(&s.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("gln", "duplicate_gln", "该GLN已被其他场所使用", "another site has this GLN")
	}
	return err
}

const productCols = `id, party_id, name, variety, COALESCE(gtin, ''), unit, net_kg, cold_profile, created`

func scanProduct(r sqldb.Row) (*trace.Product, error) {
	var p trace.Product
	var created int64
	err := r.Scan(&p.ID, &p.PartyID, &p.Name, &p.Variety, &p.GTIN, &p.Unit, &p.NetKg, &p.ColdProfile, &created)
	p.Created = fromMicros(created)
	return &p, err
}

func (q queries) Product(ctx context.Context, id int64) (*trace.Product, error) {
	p, err := scanProduct(q.c.QueryRow(ctx, `SELECT `+productCols+` FROM products WHERE id = $1`, id))
	return p, notFound(err, "product", id)
}

func (q queries) Products(ctx context.Context, pg trace.Page) ([]trace.Product, error) {
	after, n := limit(pg)
	return list(ctx, q.c, scanProduct, `SELECT `+productCols+` FROM products WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
}

func (q queries) CreateProduct(ctx context.Context, p *trace.Product) error {
	err := q.c.QueryRow(ctx, `INSERT INTO products (party_id, name, variety, gtin, unit, net_kg, cold_profile, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.PartyID, p.Name, p.Variety, nullable(p.GTIN), p.Unit, p.NetKg, p.ColdProfile, micros(p.Created)).Scan(&p.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("gtin", "duplicate_gtin", "该GTIN已登记", "a product with this GTIN exists")
	}
	return err
}

// list runs a query and scans each row with scan.
func list[T any](ctx context.Context, c sqldb.Conn, scan func(sqldb.Row) (*T, error), query string, args ...any) ([]T, error) {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rs.Err()
}

// inList returns "$k, $k+1, …" placeholders for n values starting at $k.
func inList(k, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(k + i))
	}
	return b.String()
}
