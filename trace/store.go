package trace

import (
	"context"
	"time"
)

// Page selects a slice of a list ordered by descending ID: the items with an ID
// below After (all when After is 0), at most Limit of them.
type Page struct {
	After int64
	Limit int
}

// LotFilter narrows a lot list.
type LotFilter struct {
	PartyID int64 // owner or holder; 0 for all
}

// Store is the system of record the service runs on; internal/store implements it
// on SQLite and PostgreSQL. Lookups of a missing record return a KindNotFound *Error.
// Transactions may buffer writes until Flush or commit; their reads see them.
type Store interface {
	Reader
	// Write runs fn in one transaction that commits when fn returns nil.
	Write(ctx context.Context, fn func(Tx) error) error
	// Replay returns the response recorded for an idempotency key, and false when there is none.
	Replay(ctx context.Context, principal, key string) (Replay, bool, error)
	// ActorByToken returns the actor an API token hash belongs to.
	ActorByToken(ctx context.Context, hash []byte) (Actor, error)
	UserByName(ctx context.Context, username string) (*User, error)
}

// Reader holds the reads both the store and its transactions serve.
type Reader interface {
	Party(ctx context.Context, id int64) (*Party, error)
	Parties(ctx context.Context, p Page) ([]Party, error)
	Site(ctx context.Context, id int64) (*Site, error)
	Sites(ctx context.Context, partyID int64, p Page) ([]Site, error)
	Product(ctx context.Context, id int64) (*Product, error)
	Products(ctx context.Context, p Page) ([]Product, error)
	Lot(ctx context.Context, id int64) (*Lot, error)
	Lots(ctx context.Context, f LotFilter, p Page) ([]Lot, error)
	Event(ctx context.Context, id int64) (*Event, error)
	LotEvents(ctx context.Context, lotID int64, p Page) ([]Event, error)
	// Graph returns the lots linked to lotID in direction d, the events that touch
	// them and, backward, the input applications on their origin orchards.
	Graph(ctx context.Context, lotID int64, d Direction) (*Graph, error)
}

// Tx is a write transaction.
type Tx interface {
	Reader
	CreateParty(ctx context.Context, p *Party) error
	CreateUser(ctx context.Context, u *User) error
	CreateToken(ctx context.Context, userID int64, name string, hash []byte) error
	DeleteToken(ctx context.Context, hash []byte) error
	CreateSite(ctx context.Context, s *Site) error
	CreateProduct(ctx context.Context, p *Product) error
	// ReserveIDs returns n new IDs for events (kind "event") or lots (kind "lot").
	ReserveIDs(ctx context.Context, kind string, n int) ([]int64, error)
	// LockLot reads a lot and keeps other writers off it until the transaction ends.
	LockLot(ctx context.Context, id int64) (*Lot, error)
	// PrefetchLots locks the lots a batch will touch in one go; unknown IDs are skipped.
	PrefetchLots(ctx context.Context, ids []int64) error
	// ExistingLotCodes returns which of codes the owner already has.
	ExistingLotCodes(ctx context.Context, owner int64, codes []string) ([]string, error)
	// InsertEvent stores an event with the lots it creates (KindConflict when the
	// owner already has a lot's code) and its links to the lots it touches.
	InsertEvent(ctx context.Context, e *Event, newLots []*Lot) error
	UpdateLot(ctx context.Context, l *Lot) error // remaining, holder, in-transit destination
	InsertEdge(ctx context.Context, parent, child, eventID int64) error
	// BlockingApplication returns the input application on siteID whose pre-harvest
	// interval is still running at t and ends last, and false when there is none.
	BlockingApplication(ctx context.Context, siteID int64, t time.Time) (*Event, bool, error)
	SaveReplay(ctx context.Context, principal, key string, r Replay) error
	// Flush writes what the transaction buffered so far; when it fails, none of it
	// is written and the transaction can go on.
	Flush(ctx context.Context) error
}

// Replay is a response recorded under an idempotency key.
type Replay struct {
	RequestHash []byte
	Status      int
	Body        []byte
}

// Direction selects which way a trace walks the lot graph.
type Direction int

// Directions.
const (
	Backward Direction = 1 << iota // towards orchards and inputs
	Forward                        // towards every lot made from it
	Both     = Backward | Forward
)

// Edge links a lot to a lot made from it.
type Edge struct {
	Parent int64 `json:"parent"`
	Child  int64 `json:"child"`
	Event  int64 `json:"event"`
}

// Graph is a trace: lots and the transformations between them, with their events.
type Graph struct {
	Root   int64
	Lots   []Lot
	Edges  []Edge
	Events []Event
	Sites  []Site
}
