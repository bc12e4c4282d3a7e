package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

var (
	_ cert.Store = (*Store)(nil)
	_ cert.Tx    = (*tx)(nil)
)

// WriteCertificates runs fn in a transaction, grouped with other writes like Write.
func (s *Store) WriteCertificates(ctx context.Context, fn func(cert.Tx) error) error {
	return s.Write(ctx, func(t trace.Tx) error { return fn(t.(*tx)) })
}

const certCols = `c.id, c.body, c.signature, COALESCE(c.ledger_tx, ''), r.body, COALESCE(r.ledger_tx, '')`

const certFrom = ` FROM certificates c LEFT JOIN revocations r ON r.certificate_id = c.id`

func scanCert(r sqldb.Row) (*cert.Issued, error) {
	var c cert.Issued
	var revocation []byte
	var revTx string
	if err := r.Scan(&c.ID, &c.Canonical, &c.Signature, &c.LedgerTx, &revocation, &revTx); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(c.Canonical, &c.Certificate); err != nil {
		return nil, err
	}
	if revocation != nil {
		c.Revocation = &cert.Revocation{LedgerTx: revTx}
		if err := json.Unmarshal(revocation, c.Revocation); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

func (q queries) Certificate(ctx context.Context, id int64) (*cert.Issued, error) {
	c, err := scanCert(q.c.QueryRow(ctx, `SELECT `+certCols+certFrom+` WHERE c.id = $1`, id))
	return c, notFound(err, "certificate", id)
}

func (q queries) CertificateBySerial(ctx context.Context, serial string) (*cert.Issued, error) {
	c, err := scanCert(q.c.QueryRow(ctx, `SELECT `+certCols+certFrom+` WHERE c.serial = $1`, serial))
	return c, notFound(err, "certificate", serial)
}

func (q queries) CertificateOfLot(ctx context.Context, lotID int64) (*cert.Issued, error) {
	c, err := scanCert(q.c.QueryRow(ctx, `SELECT `+certCols+certFrom+` WHERE c.lot_id = $1`, lotID))
	return c, notFound(err, "certificate", lotID)
}

func (q queries) CertificateByLot(ctx context.Context, gtin, lotCode string) (*cert.Issued, error) {
	c, err := scanCert(q.c.QueryRow(ctx, `SELECT `+certCols+` FROM lots l JOIN products p ON p.id = l.product_id
		JOIN certificates c ON c.lot_id = l.id LEFT JOIN revocations r ON r.certificate_id = c.id
		WHERE p.gtin = $1 AND l.code = $2 ORDER BY c.id DESC LIMIT 1`, gtin, lotCode))
	return c, notFound(err, "certificate", gtin+"/"+lotCode)
}

// ProductByGTIN returns the product with a GTIN-14, for the Digital Link resolver.
func (q queries) ProductByGTIN(ctx context.Context, gtin string) (*trace.Product, error) {
	p, err := scanProduct(q.c.QueryRow(ctx, `SELECT `+productCols+` FROM products WHERE gtin = $1`, gtin))
	return p, notFound(err, "product", gtin)
}

func (q queries) Certificates(ctx context.Context, f cert.Filter, pg trace.Page) ([]cert.Issued, error) {
	after, n := limit(pg)
	where, args := `c.id < $1`, []any{after, n}
	if f.PartyID != 0 {
		args = append(args, f.PartyID)
		where += ` AND c.party_id = $3`
	}
	if f.LotID != 0 {
		args = append(args, f.LotID)
		where += ` AND c.lot_id = $` + strconv.Itoa(len(args))
	}
	return list(ctx, q.c, scanCert, `SELECT `+certCols+certFrom+` WHERE `+where+` ORDER BY c.id DESC LIMIT $2`, args...)
}

// InsertCertificate writes a certificate directly (behind the transaction's
// savepoint) and queues its log leaf for the group's commit.
func (t *tx) InsertCertificate(ctx context.Context, c *cert.Issued) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO certificates (id, serial, party_id, lot_id, issued, body, signature) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.Serial, c.PartyID, c.LotID, micros(c.Issued), c.Canonical, c.Signature)
	var ue *sqldb.UniqueError
	if errors.As(err, &ue) {
		return trace.Conflict("lot", "already_certified", "该批次已开具合格证（一个批次一张合格证）", "this lot already has a certificate (one certificate per lot)")
	}
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "certificate", RecordID: c.ID, Data: c.Canonical})
	}
	return err
}

func (t *tx) InsertRevocation(ctx context.Context, r *cert.Revocation) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	body := r.Canonical()
	_, err := t.c.Exec(ctx, `INSERT INTO revocations (certificate_id, party_id, created, body) VALUES ($1, $2, $3, $4)`,
		r.CertificateID, r.PartyID, micros(r.Time), body)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("", "already_revoked", "该合格证已撤销", "this certificate is already revoked")
	}
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "revocation", RecordID: r.CertificateID, Data: body})
	}
	return err
}
