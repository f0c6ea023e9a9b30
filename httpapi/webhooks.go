package httpapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine/webhooks"
	"github.com/tollway/tollway/httpapi/egress"
)

// Limits of the webhook routes, beyond engine/webhooks'.
const (
	// DeliveriesPageDefault is GET /v1/webhooks/{id}/deliveries' page
	// size when none is asked; webhooks.DeliveriesPageMax bounds it.
	DeliveriesPageDefault = 20
	// prefixDelivery leads a delivery log entry's id: its sequence number
	// in the endpoint's log.
	prefixDelivery = "whd_"
	// webhookAccountBytesMax bounds the accountId field (an acct_ id).
	webhookAccountBytesMax = 64
	// eventTypeBytesMax bounds one event name.
	eventTypeBytesMax = 32
)

// webhookJSON is an endpoint as its owner sees it; Secret only in the
// answer to its creation.
type webhookJSON struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	AccountID *string  `json:"accountId"`
	CreatedAt string   `json:"createdAt"`
	Secret    string   `json:"secret,omitempty"`
}

func webhookOf(e webhooks.Endpoint) webhookJSON {
	j := webhookJSON{ID: e.ID, URL: e.URL, Events: e.Events, CreatedAt: timeJSON(e.CreatedAt), Secret: e.Secret}
	if e.AccountID != "" {
		j.AccountID = &e.AccountID
	}
	return j
}

type deliveryJSON struct {
	ID         string  `json:"id"`
	EventID    string  `json:"eventId"`
	Type       string  `json:"type"`
	Attempt    uint32  `json:"attempt"`
	Outcome    string  `json:"outcome"`
	Status     *int    `json:"status"`
	Error      *string `json:"error"`
	At         string  `json:"at"`
	DurationMs int64   `json:"durationMs"`
}

func deliveryOf(d webhooks.Delivery) deliveryJSON {
	j := deliveryJSON{ID: prefixDelivery + strconv.FormatUint(d.Sequence, 10), EventID: d.EventID, Type: d.Type,
		Attempt: d.Attempt, Outcome: d.Outcome, At: timeJSON(d.At), DurationMs: d.DurationMs}
	if d.Status != 0 {
		j.Status = &d.Status
	}
	if d.Error != "" {
		j.Error = &d.Error
	}
	return j
}

// webhookError maps engine/webhooks' errors; others go to errorOf.
func webhookError(err error) *apiError {
	switch {
	case errors.Is(err, webhooks.ErrNotFound):
		return notFound("webhook")
	case errors.Is(err, webhooks.ErrLimit):
		return limitExceeded(fmt.Sprintf("a user may register at most %d webhooks", webhooks.EndpointsPerOwnerMax))
	case errors.Is(err, webhooks.ErrUnavailable):
		return errUnavailable
	}
	return errorOf(err, "webhook")
}

// createWebhook is POST /v1/webhooks: url (checked by the egress policy:
// no loopback, private or link-local target unless the server allows
// them), events (names of webhooks.EventTypes, each once) and an optional
// accountId of the caller's, whose events alone it then receives.
func (s *Server) createWebhook(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	url, okURL := r.string("url", true, egress.URLLengthMax)
	events, okEvents := r.strings("events", true, webhooks.EventsPerEndpointMax, eventTypeBytesMax)
	if okEvents {
		if why := checkEventTypes(events); why != "" {
			r.fail("events", why)
		}
	}
	account, okAccount := r.string("accountId", false, webhookAccountBytesMax)
	if okAccount {
		if _, err := s.directory.Account(account, u.ID); err != nil {
			r.fail("accountId", "must be one of your accounts")
		}
	}
	if okURL {
		if _, err := s.egress.CheckURL(ctxOf(ctx), url); err != nil {
			r.fail("url", "must be an http or https URL of a public address: "+strings.TrimPrefix(err.Error(), "egress: "))
		}
	}
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	e, err := s.webhooks.Create(ctxOf(ctx), u.ID, url, events, account)
	if err != nil {
		return webhookError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, webhookOf(e))
	return nil
}

// checkEventTypes says what is wrong with an endpoint's events, "" if
// nothing.
func checkEventTypes(events []string) string {
	if len(events) == 0 {
		return "must name at least one event type"
	}
	for i, name := range events {
		if !webhooks.IsEventType(name) {
			return "must be event types among " + strings.Join(webhooks.EventTypes, ", ")
		}
		for _, before := range events[:i] {
			if before == name {
				return "must name each event type once"
			}
		}
	}
	return ""
}

func (s *Server) listWebhooks(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	endpoints := s.webhooks.Endpoints(u.ID)
	data := make([]webhookJSON, len(endpoints))
	for i, e := range endpoints {
		data[i] = webhookOf(e)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *Server) getWebhook(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	e, err := s.webhooks.Get(pathID(ctx), u.ID)
	if err != nil {
		return webhookError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, webhookOf(e))
	return nil
}

// deleteWebhook is DELETE /v1/webhooks/{id}: no delivery starts after it
// answers; the endpoint's pending events and delivery log go with it.
func (s *Server) deleteWebhook(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	e, err := s.webhooks.Get(pathID(ctx), u.ID)
	if err == nil {
		err = s.webhooks.Delete(ctxOf(ctx), e.ID, u.ID)
	}
	if err != nil {
		return webhookError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, webhookOf(e))
	return nil
}

// listDeliveries is GET /v1/webhooks/{id}/deliveries: the endpoint's
// delivery log, newest first, limit entries a page, older ones after
// startingAfter (a delivery id).
func (s *Server) listDeliveries(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	args := ctx.QueryArgs()
	fields := map[string]string{}
	limit := readPageLimit(args, fields, DeliveriesPageDefault, webhooks.DeliveriesPageMax)
	var before uint64
	if value := args.Peek("startingAfter"); value != nil {
		n, err := strconv.ParseUint(strings.TrimPrefix(string(value), prefixDelivery), 10, 64)
		if !strings.HasPrefix(string(value), prefixDelivery) || err != nil || n == 0 {
			fields["startingAfter"] = "must be a delivery id (whd_…)"
		}
		before = n
	}
	if len(fields) > 0 {
		return validation(fields)
	}
	page, more, err := s.webhooks.Deliveries(pathID(ctx), u.ID, before, limit)
	if err != nil {
		return webhookError(err)
	}
	data := make([]deliveryJSON, len(page))
	for i, d := range page {
		data[i] = deliveryOf(d)
	}
	var next *string
	if more && len(data) > 0 {
		next = &data[len(data)-1].ID
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data, "hasMore": more, "nextStartingAfter": next})
	return nil
}
