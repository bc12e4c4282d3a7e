package anchor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ganpin/ganpin/chaincode"
)

// registerBatch bounds the certificates one ledger transaction registers.
const registerBatch = 500

// registerCertificates registers waiting certificates on the ledger, oldest first.
func (a *Anchorer) registerCertificates(ctx context.Context) error {
	rows, err := a.db.Query(ctx, `SELECT c.id, c.serial, c.body, p.uscc FROM certificates c JOIN parties p ON p.id = c.party_id
		WHERE c.ledger_tx IS NULL ORDER BY c.id LIMIT $1`, registerBatch)
	if err != nil {
		return err
	}
	var ids []int64
	var batch []chaincode.CertRegistration
	for rows.Next() {
		var id int64
		var r chaincode.CertRegistration
		var body []byte
		if err := rows.Scan(&id, &r.Serial, &body, &r.Issuer); err != nil {
			rows.Close()
			return err
		}
		h := sha256.Sum256(body)
		r.Hash = hex.EncodeToString(h[:])
		ids, batch = append(ids, id), append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(batch) == 0 {
		return err
	}
	rc, err := a.ledger.RegisterCertificates(ctx, batch)
	var refusal *chaincode.Error
	if errors.As(err, &refusal) && refusal.Code == "duplicate" {
		// Some were registered before the outbox was updated (a crash in between):
		// settle them one by one.
		for i := range batch {
			if err := a.registerOne(ctx, ids[i], batch[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := a.db.Exec(ctx, `UPDATE certificates SET ledger_tx = $2 WHERE id = $1`, id, rc.TxID); err != nil {
			return err
		}
	}
	return nil
}

func (a *Anchorer) registerOne(ctx context.Context, id int64, r chaincode.CertRegistration) error {
	rc, err := a.ledger.RegisterCertificates(ctx, []chaincode.CertRegistration{r})
	var refusal *chaincode.Error
	if errors.As(err, &refusal) && refusal.Code == "duplicate" {
		onLedger, gerr := a.ledger.GetCertificate(ctx, r.Serial)
		if gerr != nil {
			return gerr
		}
		if onLedger.Hash != r.Hash {
			return fmt.Errorf("certificate %s is registered on the ledger with hash %s, but the database holds %s", r.Serial, onLedger.Hash, r.Hash)
		}
		rc, err = chaincode.Receipt{TxID: onLedger.TxID}, nil
	}
	if err != nil {
		return err
	}
	_, err = a.db.Exec(ctx, `UPDATE certificates SET ledger_tx = $2 WHERE id = $1`, id, rc.TxID)
	return err
}

// revoke records waiting revocations of registered certificates on the ledger.
func (a *Anchorer) revoke(ctx context.Context) error {
	rows, err := a.db.Query(ctx, `SELECT r.certificate_id, c.serial, r.body FROM revocations r JOIN certificates c ON c.id = r.certificate_id
		WHERE r.ledger_tx IS NULL AND c.ledger_tx IS NOT NULL ORDER BY r.certificate_id LIMIT $1`, registerBatch)
	if err != nil {
		return err
	}
	type pending struct {
		id             int64
		serial, reason string
	}
	var todo []pending
	for rows.Next() {
		var p pending
		var body []byte
		if err := rows.Scan(&p.id, &p.serial, &body); err != nil {
			rows.Close()
			return err
		}
		var r struct{ Reason string }
		if err := json.Unmarshal(body, &r); err != nil {
			rows.Close()
			return fmt.Errorf("revocation of certificate %d: %w", p.id, err)
		}
		p.reason = r.Reason
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range todo {
		_, rc, err := a.ledger.RevokeCertificate(ctx, p.serial, p.reason)
		var refusal *chaincode.Error
		if errors.As(err, &refusal) && refusal.Code == "revoked" {
			onLedger, gerr := a.ledger.GetCertificate(ctx, p.serial)
			if gerr != nil {
				return gerr
			}
			rc, err = chaincode.Receipt{TxID: onLedger.TxID}, nil
		}
		if err != nil {
			return err
		}
		if _, err := a.db.Exec(ctx, `UPDATE revocations SET ledger_tx = $2 WHERE certificate_id = $1`, p.id, rc.TxID); err != nil {
			return err
		}
	}
	return nil
}
