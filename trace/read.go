package trace

import (
	"context"
	"slices"
)

// Reads. Catalogue data (parties' public identity, products) is readable by every
// authenticated actor; sites, lots and events only by their party, by the parties a
// lot passed through, and by inspectors and admins.

// Party returns a party.
func (s *Service) Party(ctx context.Context, a Actor, id int64) (*Party, error) {
	return s.store.Party(ctx, id)
}

// Parties lists parties.
func (s *Service) Parties(ctx context.Context, a Actor, p Page) ([]Party, error) {
	return s.store.Parties(ctx, p)
}

// Product returns a product.
func (s *Service) Product(ctx context.Context, a Actor, id int64) (*Product, error) {
	return s.store.Product(ctx, id)
}

// Products lists the product catalogue.
func (s *Service) Products(ctx context.Context, a Actor, p Page) ([]Product, error) {
	return s.store.Products(ctx, p)
}

// Site returns a site of the actor's party.
func (s *Service) Site(ctx context.Context, a Actor, id int64) (*Site, error) {
	site, err := s.store.Site(ctx, id)
	if err != nil {
		return nil, err
	}
	if site.PartyID != a.PartyID && !a.ReadsAll() {
		return nil, NotFound("", "site", id)
	}
	return site, nil
}

// Sites lists the actor's party's sites (every site for inspectors and admins).
func (s *Service) Sites(ctx context.Context, a Actor, p Page) ([]Site, error) {
	party := a.PartyID
	if a.ReadsAll() {
		party = 0
	}
	return s.store.Sites(ctx, party, p)
}

// Lot returns a lot the actor's party owns or holds.
func (s *Service) Lot(ctx context.Context, a Actor, id int64) (*Lot, error) {
	l, err := s.store.Lot(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.ReadsAll() && l.OwnerID != a.PartyID && l.HolderID != a.PartyID {
		return nil, NotFound("", "lot", id) // not 403: do not reveal other parties' lots
	}
	return l, nil
}

// Lots lists the lots the actor's party owns or holds (all for inspectors and admins).
func (s *Service) Lots(ctx context.Context, a Actor, p Page) ([]Lot, error) {
	f := LotFilter{PartyID: a.PartyID}
	if a.ReadsAll() {
		f.PartyID = 0
	}
	return s.store.Lots(ctx, f, p)
}

// Event returns an event recorded by the actor's party or touching a lot it may read.
func (s *Service) Event(ctx context.Context, a Actor, id int64) (*Event, error) {
	e, err := s.store.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.ReadsAll() || e.PartyID == a.PartyID {
		return e, nil
	}
	for _, el := range e.Lots {
		if _, err := s.Lot(ctx, a, el.Lot); err == nil {
			return e, nil
		}
	}
	return nil, NotFound("", "event", id)
}

// LotEvents lists the events that touch a lot the actor may read.
func (s *Service) LotEvents(ctx context.Context, a Actor, lotID int64, p Page) ([]Event, error) {
	if _, err := s.Lot(ctx, a, lotID); err != nil {
		return nil, err
	}
	return s.store.LotEvents(ctx, lotID, p)
}

// Trace walks the lot graph from a lot. Supply-chain partners may trace: the actor's
// party must own or hold a lot in the graph (one step up, one step down and beyond).
func (s *Service) Trace(ctx context.Context, a Actor, lotID int64, d Direction) (*Graph, error) {
	g, err := s.store.Graph(ctx, lotID, d)
	if err != nil {
		return nil, err
	}
	if a.ReadsAll() || slices.ContainsFunc(g.Lots, func(l Lot) bool { return l.OwnerID == a.PartyID || l.HolderID == a.PartyID }) {
		return g, nil
	}
	return nil, NotFound("", "lot", lotID)
}
