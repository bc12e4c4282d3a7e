package anchor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"

	"github.com/ganpin/ganpin/chaincode"
)

// Regulator records sampling verdicts on the ledger as the regulator's organisation.
type Regulator interface {
	RecordSampling(ctx context.Context, s chaincode.Sampling) (chaincode.Receipt, error)
}

// UseRegulator makes the anchorer record sampling verdicts through r: a Fabric
// client signing as the regulator's MSP, where the ledger's own client signs as the
// operator. The embedded ledger records them as the regulator itself.
func (a *Anchorer) UseRegulator(r Regulator) { a.regulator = r }

// recordSamplings records waiting sampling verdicts on the ledger, oldest first:
// each report's verdict under its sampling number ("/复检" appended for a re-test),
// with the SHA-256 of the report's canonical bytes, which bind the sampling record's.
// A refusal (the regulator's identity missing, say) is logged and left pending; it
// does not hold up anchoring.
func (a *Anchorer) recordSamplings(ctx context.Context) error {
	rows, err := a.db.Query(ctx, `SELECT r.id, s.number, r.retest, r.verdict, r.body, COALESCE(l.code, '') FROM sampling_reports r
		JOIN samplings s ON s.id = r.sampling_id LEFT JOIN lots l ON l.id = s.lot_id
		WHERE r.ledger_tx IS NULL ORDER BY r.id LIMIT $1`, registerBatch)
	if err != nil {
		return err
	}
	type pending struct {
		id int64
		s  chaincode.Sampling
	}
	var todo []pending
	for rows.Next() {
		var p pending
		var retest int
		var body []byte
		if err := rows.Scan(&p.id, &p.s.Number, &retest, &p.s.Verdict, &body, &p.s.Lot); err != nil {
			rows.Close()
			return err
		}
		if retest != 0 {
			p.s.Number += "/复检"
		}
		h := sha256.Sum256(body)
		p.s.Hash = hex.EncodeToString(h[:])
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range todo {
		rc, err := a.regulator.RecordSampling(ctx, p.s)
		var refusal *chaincode.Error
		if errors.As(err, &refusal) {
			if refusal.Code != "duplicate" {
				slog.Warn("the ledger refused a sampling verdict; it stays pending", "number", p.s.Number, "err", err)
				return nil
			}
			// Recorded before the outbox was updated (a crash in between). The contract
			// has no query for a sampling, so its transaction ID is not known here.
			slog.Warn("sampling verdict already on the ledger; its transaction is not known", "number", p.s.Number)
			rc, err = chaincode.Receipt{TxID: "recorded-earlier"}, nil
		}
		if err != nil {
			return err
		}
		if _, err := a.db.Exec(ctx, `UPDATE sampling_reports SET ledger_tx = $2 WHERE id = $1`, p.id, rc.TxID); err != nil {
			return err
		}
	}
	return nil
}
