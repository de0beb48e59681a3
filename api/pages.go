package api

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// The hosted payment page: where a customer enters a card for a hosted session
// (POST /v1/payments without a card), passes 3-D Secure, and is sent back to the
// merchant. It is served on the API's listener under /pay/{token}; the token (256
// random bits, stored only as a hash) is the only key to a session.
//
// Safe and plain: no third-party anything, one small script of our own (device data
// for 3-D Secure), a strict Content-Security-Policy with frame-ancestors 'none', no
// caching, no referrer (the URL holds the token), a SameSite=Strict double-submit
// cookie against cross-site posts, and a per-session limit on submissions. The card
// number and CVC go from the form to the provider's tokenization and nowhere else: the
// access log names the route, never the path or the body.

//go:embed pages
var pageFiles embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

const (
	csrfCookie = "pay_csrf"
	// pageSubmitsPerSession bounds card and challenge submissions of one session (per
	// API process) in pageWindow.
	pageSubmitsPerSession = 10
	pageWindow            = 10 * time.Minute
)

// pageText is the page's wording in one language; English is the only one so far, and
// a translation is one more value of this type.
type pageText struct {
	Lang, PayTitle, Name, Number, Month, Year, CVC, Pay, Expires, MOTONote     string
	ChallengeTitle, ChallengeNote, Approve, Deny, Return                       string
	Succeeded, Failed, Pending, Expired, NotFound, TooMany, BadForm, NoSession string
	CardTitle, CardNote, Save, ExpiresCard, CardUpdated, CardRefused           string
	PlanNote, VerifyTitle, VerifyNote, PlanStarted, Replayed                   string
	PayPal, PayPalNote, Continue, HandoffTitle, HandoffNote                    string
}

var english = pageText{
	Lang: "en", PayTitle: "Pay securely", Name: "Name on card", Number: "Card number", Month: "Month",
	Year: "Year", CVC: "Security code", Pay: "Pay", Expires: "This page takes the payment until",
	MOTONote:       "Telephone or mail order: the card is entered by the merchant's agent.",
	ChallengeTitle: "Simulated 3-D Secure", Approve: "Approve", Deny: "Deny", Return: "Return to the merchant",
	ChallengeNote: "Test mode: this page stands in for the card issuer's authentication page.",
	Succeeded:     "Payment successful", Failed: "Payment failed", Pending: "Payment processing",
	Expired:  "This payment page has expired",
	NotFound: "This payment page does not exist", TooMany: "Too many attempts: try again later",
	BadForm:   "The form was not accepted: reload the page and try again",
	NoSession: "Please reload the page and try again.",
	CardTitle: "Update your card", CardNote: "Your plan charges this card from now on; nothing is charged on this page.",
	Save: "Save card", ExpiresCard: "This page takes the card until", CardUpdated: "Card updated",
	CardRefused: "The card was not accepted",
	PlanNote:    "The first payment of your plan. Later payments are charged to this card on the plan's schedule.",
	VerifyTitle: "Set up your plan",
	VerifyNote:  "Nothing is charged now: the card is verified, and your plan charges it on its schedule.",
	PlanStarted: "Your plan has started",
	Replayed:    "This step was already completed",
	PayPal:      "Pay with PayPal",
	Continue:    "Continue", HandoffTitle: "One more step",
	HandoffNote: "Your bank or PayPal asks you to confirm the payment on its own page. If it does not open, continue here.",
	PayPalNote:  "Or approve the payment in your PayPal account; later payments of a plan are charged to it.",
}

// texts picks the wording for an Accept-Language header.
func texts(acceptLanguage string) pageText { return english }

// pageLimiter counts submissions per session.
type pageLimiter struct {
	mu   sync.Mutex
	hits map[string][]time.Time
}

func newPageLimiter() *pageLimiter { return &pageLimiter{hits: map[string][]time.Time{}} }

// allow records a submission for key and reports whether it is within the limit.
func (l *pageLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.hits[key][:0]
	for _, t := range l.hits[key] {
		if now.Sub(t) < pageWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= pageSubmitsPerSession {
		l.hits[key] = recent
		return false
	}
	l.hits[key] = append(recent, now)
	if len(l.hits) > 100_000 { // forget idle sessions
		for k, ts := range l.hits {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= pageWindow {
				delete(l.hits, k)
			}
		}
	}
	return true
}

func (s *server) registerPages(e *echo.Echo) {
	g := e.Group("/pay", pageHeaders)
	g.GET("/assets/page.css", asset("pages/page.css", "text/css; charset=utf-8"))
	g.GET("/assets/device.js", asset("pages/device.js", "text/javascript; charset=utf-8"))
	g.GET("/:token", s.cardPage)
	g.POST("/:token", s.submitCard)
	g.GET("/:token/challenge", s.challengePage)
	g.GET("/:token/done", s.donePage)
	// Providers report customer-present steps here, signed with their own scheme, so
	// the route takes no API key (and no CSRF token: the issuer's page posts it).
	e.Match([]string{http.MethodGet, http.MethodPost}, "/v1/providers/:provider/callback", s.providerCallback, pageHeaders)
	e.Match([]string{http.MethodGet, http.MethodPost}, "/v1/provider-accounts/:account/callback", s.accountCallback, pageHeaders)
}

// pageHeaders are the page's security headers.
func pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func asset(name, contentType string) echo.HandlerFunc {
	body, err := pageFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, contentType, body)
	}
}

// pageData is what the templates render.
type pageData struct {
	T                                              pageText
	Title, Token, CSRF, Amount, Description, Error string
	ExpiresAt, Heading, Message, Status, ReturnURL string
	MOTO, CardChange                               bool
	// PayPal offers the PayPal button next to the card form (takesPayPal).
	PayPal bool
	// Handoff is the provider's page the customer is sent to (a 3-D Secure challenge
	// or PayPal's approval) by a page, not a redirect: a redirect after a form post
	// would be checked against the card page's form-action 'self' and blocked.
	Handoff string
	// Note replaces the card change's note (a plan's first payment or verification).
	Note string
	// Callback, Approve and Deny are the simulated ACS's two signed forms.
	Callback      string
	Approve, Deny url.Values
}

func (s *server) render(c echo.Context, status int, name string, d pageData) error {
	if d.Title == "" {
		d.Title = d.T.PayTitle
	}
	var b strings.Builder
	if err := pageTemplates.ExecuteTemplate(&b, name, d); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

// message renders a page that only says something.
func (s *server) message(c echo.Context, status int, heading, msg string) error {
	t := texts(c.Request().Header.Get("Accept-Language"))
	return s.render(c, status, "done.html", pageData{T: t, Title: heading, Heading: heading, Message: msg})
}

// pageSession finds the session of the URL's token and who owns it.
func (s *server) pageSession(c echo.Context) (billing.PaymentSession, billing.Caller, error) {
	token := c.Param("token")
	if len(token) < 32 || len(token) > 128 {
		return billing.PaymentSession{}, billing.Caller{}, errSessionNotFound
	}
	session, err := s.store.PaymentSessionByToken(c.Request().Context(), tokenHash(token))
	if err != nil {
		if billing.KindOf(err) == billing.KindNotFound {
			return billing.PaymentSession{}, billing.Caller{}, errSessionNotFound
		}
		return billing.PaymentSession{}, billing.Caller{}, err
	}
	return session, billing.Caller{MerchantID: session.MerchantID, Mode: session.Mode}, nil
}

var errSessionNotFound = errors.New("no such payment session")

// ended answers for a session that takes no payment any more, or reports false.
func (s *server) ended(c echo.Context, session billing.PaymentSession, t pageText) (bool, error) {
	switch {
	case session.Status == billing.PaymentSessionCompleted:
		return true, c.Redirect(http.StatusSeeOther, donePath(c))
	case session.Status == billing.PaymentSessionExpired || time.Now().After(session.ExpiresAt):
		return true, s.message(c, http.StatusGone, t.Expired, "")
	}
	return false, nil
}

// openSession is every page handler's start: the wording for the browser's language,
// the URL's session and its owner, or the page that answers instead (unknown token,
// ended session, and for testOnly the simulated ACS outside test mode); ok is false
// when that page was written.
func (s *server) openSession(c echo.Context, testOnly bool) (session billing.PaymentSession, caller billing.Caller, t pageText, ok bool, err error) {
	t = texts(c.Request().Header.Get("Accept-Language"))
	session, caller, err = s.pageSession(c)
	if err != nil {
		return session, caller, t, false, s.sessionError(c, err)
	}
	if done, err := s.ended(c, session, t); done {
		return session, caller, t, false, err
	}
	if testOnly && session.Mode != billing.ModeTest {
		return session, caller, t, false, s.message(c, http.StatusNotFound, t.NotFound, "")
	}
	return session, caller, t, true, nil
}

// donePath is the page showing how the URL's session ended.
func donePath(c echo.Context) string { return "/pay/" + c.Param("token") + "/done" }

func (s *server) sessionError(c echo.Context, err error) error {
	t := texts(c.Request().Header.Get("Accept-Language"))
	if errors.Is(err, errSessionNotFound) {
		return s.message(c, http.StatusNotFound, t.NotFound, "")
	}
	return err
}

// csrfToken returns the request's double-submit token, setting the cookie when the
// browser has none.
func csrfToken(c echo.Context) string {
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	v := billing.RandomToken(24)
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: v, Path: "/pay/", HttpOnly: true, Secure: c.Scheme() == "https",
		SameSite: http.SameSiteStrictMode})
	return v
}

// checkForm verifies a page POST: the double-submit token, the same origin when the
// browser says, and the session's submission limit.
func (s *server) checkForm(c echo.Context, session billing.PaymentSession, t pageText) (bool, error) {
	ck, err := c.Cookie(csrfCookie)
	form := c.FormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		return false, s.message(c, http.StatusForbidden, t.BadForm, t.NoSession)
	}
	if origin := c.Request().Header.Get("Origin"); origin != "" && origin != "null" {
		if u, err := url.Parse(origin); err != nil || u.Host != c.Request().Host {
			return false, s.message(c, http.StatusForbidden, t.BadForm, t.NoSession)
		}
	}
	if !s.pages.allow(session.TokenHash, time.Now()) {
		return false, s.message(c, http.StatusTooManyRequests, t.TooMany, "")
	}
	return true, nil
}

func formatAmount(amount int64, currency string) string {
	cur, err := billing.LookupCurrency(currency)
	if err != nil {
		return strconv.FormatInt(amount, 10) + " " + currency
	}
	return cur.FormatAmount(amount)
}

func (s *server) cardData(c echo.Context, session billing.PaymentSession, t pageText, formErr string) pageData {
	d := pageData{T: t, Token: c.Param("token"), CSRF: csrfToken(c), Amount: formatAmount(session.Amount, session.Currency),
		Description: session.Description, Error: formErr, MOTO: session.Type == "moto", CardChange: session.PlanID != "",
		ExpiresAt: session.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")}
	d.PayPal = s.takesPayPal(c.Request().Context(), session)
	if d.CardChange {
		d.Title, d.Note = t.CardTitle, t.CardNote
	}
	switch {
	case session.StartPlan && session.Amount == 0:
		d.Title, d.Note = t.VerifyTitle, t.VerifyNote
	case session.StartPlan:
		// The plan's first payment: shown as a payment, with what it starts.
		d.CardChange, d.Description = false, t.PlanNote
	}
	return d
}

// cardPage shows the card form of an open session.
func (s *server) cardPage(c echo.Context) error {
	session, _, t, ok, err := s.openSession(c, false)
	if !ok {
		return err
	}
	return s.render(c, http.StatusOK, "card.html", s.cardData(c, session, t, ""))
}

// submitCard saves the customer's card with the session's provider (or, for the PayPal
// button, a PayPal method awaiting the payer's approval) and hands it to the session's
// workflow, which authenticates and charges it (for PayPal: sends the payer to
// PayPal's approval page, the challenge).
func (s *server) submitCard(c echo.Context) error {
	ctx := c.Request().Context()
	session, caller, t, ok, err := s.openSession(c, false)
	if !ok {
		return err
	}
	if ok, err := s.checkForm(c, session, t); !ok {
		return err
	}
	tc, err := s.temporalClient()
	if err != nil {
		return err
	}
	customer, err := s.store.GetCustomer(ctx, caller, session.CustomerID)
	if err != nil {
		return err
	}
	var pm billing.PaymentMethod
	switch c.FormValue("method") {
	case "", "card":
		pm, err = s.pageCard(c, caller, customer, session)
	case string(billing.PaymentMethodPayPal):
		if !s.takesPayPal(ctx, session) {
			return s.render(c, http.StatusUnprocessableEntity, "card.html", s.cardData(c, session, t, "PayPal cannot be used for this payment."))
		}
		// The agreement comes with the payer's approval at PayPal (keepAgreement).
		pm, err = s.store.CreatePaymentMethod(ctx, caller, billing.NewPaymentMethod{CustomerID: customer.ID,
			Provider: session.Provider, ProviderAccount: session.ProviderAccount, Type: billing.PaymentMethodPayPal,
			AwaitingApproval: true})
	default:
		return s.render(c, http.StatusUnprocessableEntity, "card.html", s.cardData(c, session, t, "Choose a card or PayPal."))
	}
	if err != nil {
		if billing.KindOf(err) == billing.KindInvalid || billing.KindOf(err) == billing.KindCardDeclined {
			return s.render(c, http.StatusUnprocessableEntity, "card.html", s.cardData(c, session, t, cardMessage(err)))
		}
		return err
	}
	step, err := starter.SubmitHostedCard(ctx, tc, session.ID, workflows.SubmitCardRequest{PaymentMethodID: pm.ID,
		Browser: browserInfo(c)})
	if err != nil {
		_, _ = s.store.DetachPaymentMethod(context.WithoutCancel(ctx), caller, pm.ID)
		if billing.KindOf(err) == billing.KindConflict {
			return c.Redirect(http.StatusSeeOther, donePath(c))
		}
		if billing.KindOf(err) == billing.KindCardDeclined || billing.KindOf(err) == billing.KindInvalid {
			return s.render(c, http.StatusUnprocessableEntity, "card.html", s.cardData(c, session, t, cardMessage(err)))
		}
		return err
	}
	return s.nextStep(c, step)
}

// takesPayPal reports whether the session's page offers PayPal: a payment (not a card
// change, a verification or a telephone order) that keeps the method (save_card, or a
// plan's first payment: an agreement nothing charges again would only wait at PayPal,
// unrevoked), whose provider approves PayPal agreements on the hosted page in the
// session's currency.
func (s *server) takesPayPal(ctx context.Context, session billing.PaymentSession) bool {
	if session.Type == "moto" || (session.PlanID != "" && (!session.StartPlan || session.Amount == 0)) ||
		(session.PlanID == "" && !session.SaveCard) {
		return false
	}
	p, err := s.adapter(ctx, billing.Caller{MerchantID: session.MerchantID, Mode: session.Mode}, session.Provider, session.ProviderAccount)
	if err != nil {
		return false
	}
	row, ok := providers.Find(p.Capabilities(), providers.MethodPayPal)
	return ok && row.HostedPage && row.SupportsCurrency(session.Currency)
}

// pageCard saves the card typed on the page.
func (s *server) pageCard(c echo.Context, caller billing.Caller, customer billing.Customer, session billing.PaymentSession) (billing.PaymentMethod, error) {
	month, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("exp_month")))
	year, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("exp_year")))
	if year > 0 && year < 100 {
		year += 2000
	}
	cvc := strings.TrimSpace(c.FormValue("cvc"))
	in := CardInput{Number: strings.Join(strings.Fields(c.FormValue("number")), ""), ExpMonth: month, ExpYear: year}
	if cvc != "" {
		in.Cvc = &cvc
	}
	return s.saveSessionCard(c.Request().Context(), caller, customer, session, in)
}

// saveSessionCard saves the page's card where the session says: the merchant's
// provider account, or the installation's provider.
func (s *server) saveSessionCard(ctx context.Context, caller billing.Caller, customer billing.Customer, session billing.PaymentSession, in CardInput) (billing.PaymentMethod, error) {
	if session.ProviderAccount == "" {
		return s.saveCard(ctx, caller, customer, in, session.Provider, "")
	}
	card, err := providers.CheckCard(providers.Card{Number: in.Number, ExpMonth: in.ExpMonth, ExpYear: in.ExpYear, CVC: deref(in.Cvc)}, time.Now())
	if err != nil {
		return billing.PaymentMethod{}, cardError(err)
	}
	p, err := s.adapter(ctx, caller, session.Provider, session.ProviderAccount)
	if err != nil {
		// The account was deleted while the page was open: nothing the customer can fix.
		return billing.PaymentMethod{}, fmt.Errorf("hosted session %s: provider account %s: %w", session.ID, session.ProviderAccount, err)
	}
	return s.saveCardOn(ctx, caller, customer, card, p, session.ProviderAccount, "")
}

// nextStep sends the browser to the challenge, or ends the session's page.
func (s *server) nextStep(c echo.Context, step workflows.HostedStep) error {
	token := c.Param("token")
	if step.Challenge != nil {
		if step.Challenge.ChallengeURL != "" {
			// Browsers check a form post's redirects against the page's form-action
			// (Chromium, WebKit): a provider's page on another origin is reached by a
			// page of ours that sends the customer on.
			t := texts(c.Request().Header.Get("Accept-Language"))
			return s.render(c, http.StatusOK, "handoff.html", pageData{T: t, Title: t.HandoffTitle, Heading: t.HandoffTitle,
				Message: t.HandoffNote, Handoff: step.Challenge.ChallengeURL})
		}
		return c.Redirect(http.StatusSeeOther, "/pay/"+token+"/challenge?authentication="+url.QueryEscape(step.Challenge.ID))
	}
	// The workflow has recorded the outcome and dropped a card the session does not keep.
	return c.Redirect(http.StatusSeeOther, donePath(c))
}

// acsSigner is the simulator's side of its ACS page: the two answers, signed.
type acsSigner interface {
	ChallengeForms(c providers.Callback, now time.Time) (approve, deny url.Values)
}

// challengePage is the simulated issuer page (ACS) of a challenged test-mode payment.
// It belongs to the simulator: its Approve and Deny forms post the answer, signed with
// the simulator's key, to the provider callback route, as an issuer's page returns a
// signed result.
func (s *server) challengePage(c echo.Context) error {
	session, _, t, ok, err := s.openSession(c, true)
	if !ok {
		return err
	}
	p, err := s.providers.Get(session.Provider)
	acs, isACS := p.(acsSigner)
	authID := c.QueryParam("authentication")
	if err != nil || !isACS || authID == "" || len(authID) > 128 {
		return s.message(c, http.StatusNotFound, t.NotFound, "")
	}
	approve, deny := acs.ChallengeForms(providers.Callback{MerchantID: session.MerchantID, Mode: session.Mode,
		SessionID: session.ID, AuthenticationID: authID}, time.Now())
	return s.render(c, http.StatusOK, "challenge.html", pageData{T: t, Title: t.ChallengeTitle,
		Amount: formatAmount(session.Amount, session.Currency), Callback: "/v1/providers/" + session.Provider + "/callback",
		Approve: approve, Deny: deny})
}

// providerCallback takes a provider's signed report of a customer-present step (for
// the simulator, its ACS page's answer), completes the session's step with it and
// sends the customer to the outcome. Unsigned or badly signed: 401; stale, for an
// unknown session (another merchant's included) or for a session no longer waiting
// (a replay, a second click): 400. None of them changes anything.
func (s *server) providerCallback(c echo.Context) error {
	t := texts(c.Request().Header.Get("Accept-Language"))
	name := c.Param("provider")
	p, err := s.providers.Get(name)
	verifier, ok := p.(providers.CallbackVerifier)
	if err != nil || !ok {
		return s.message(c, http.StatusNotFound, t.NotFound, "No such provider callback.")
	}
	return s.completeCallback(c, verifier, func(session billing.PaymentSession, _ providers.Callback) bool {
		return session.Provider == name && session.ProviderAccount == ""
	})
}

// accountCallback is providerCallback for a merchant's provider account
// (/v1/provider-accounts/{id}/callback): the account's own adapter verifies the
// callback, which must then name a session of the account's merchant that saves cards
// in this account.
func (s *server) accountCallback(c echo.Context) error {
	ctx := c.Request().Context()
	t := texts(c.Request().Header.Get("Accept-Language"))
	id := c.Param("account")
	merchant, keys, err := s.store.CallbackAccountKeys(ctx, id)
	if billing.KindOf(err) == billing.KindNotFound {
		return s.message(c, http.StatusNotFound, t.NotFound, "No such provider callback.")
	}
	if err != nil {
		return err
	}
	p, err := provideraccounts.Build(keys)
	if err != nil {
		return err
	}
	verifier, ok := p.(providers.CallbackVerifier)
	if !ok {
		return s.message(c, http.StatusNotFound, t.NotFound, "No such provider callback.")
	}
	return s.completeCallback(c, verifier, func(session billing.PaymentSession, cb providers.Callback) bool {
		return cb.MerchantID == merchant && cb.Mode == keys.Mode && session.ProviderAccount == id
	})
}

// completeCallback verifies a callback with verifier, finds the session it names
// (belongs tells whether the route may complete it) and hands the answer to the
// session's workflow.
func (s *server) completeCallback(c echo.Context, verifier providers.CallbackVerifier,
	belongs func(billing.PaymentSession, providers.Callback) bool) error {
	ctx := c.Request().Context()
	t := texts(c.Request().Header.Get("Accept-Language"))
	form, err := c.FormParams()
	if err != nil {
		return s.message(c, http.StatusBadRequest, t.BadForm, "")
	}
	cb, err := verifier.VerifyCallback(ctx, form, time.Now())
	switch {
	case errors.Is(err, providers.ErrCallbackSignature):
		return s.message(c, http.StatusUnauthorized, t.BadForm, "The callback's signature is missing or wrong.")
	case errors.Is(err, providers.ErrCallbackStale):
		return s.message(c, http.StatusBadRequest, t.BadForm, "The callback is too old.")
	case err != nil:
		return err // the provider could not be asked: a 5xx, the provider may call again
	}
	session, err := s.store.GetPaymentSession(ctx, billing.Caller{MerchantID: cb.MerchantID, Mode: cb.Mode}, cb.SessionID)
	if billing.KindOf(err) == billing.KindNotFound || (err == nil && !belongs(session, cb)) {
		return s.message(c, http.StatusBadRequest, t.NotFound, "The callback names no session of this provider.")
	}
	if err != nil {
		return err
	}
	tc, err := s.temporalClient()
	if err != nil {
		return err
	}
	step, err := starter.CompleteHostedChallenge(ctx, tc, session.ID, workflows.CompleteChallengeRequest{
		Answer: cb.Answer, AuthenticationID: cb.AuthenticationID})
	if billing.KindOf(err) == billing.KindConflict || billing.KindOf(err) == billing.KindInvalid {
		return s.message(c, http.StatusBadRequest, t.Replayed, "")
	}
	if err != nil {
		return err
	}
	if step.Challenge != nil || session.Token == "" {
		return s.message(c, http.StatusOK, t.Pending, "")
	}
	return c.Redirect(http.StatusSeeOther, "/pay/"+session.Token+"/done")
}

// donePage shows how the payment ended and sends the customer to return_url.
func (s *server) donePage(c echo.Context) error {
	ctx := c.Request().Context()
	t := texts(c.Request().Header.Get("Accept-Language"))
	session, caller, err := s.pageSession(c)
	if err != nil {
		return s.sessionError(c, err)
	}
	status := billing.PaymentRequiresAction
	if session.Status == billing.PaymentSessionExpired {
		status = billing.PaymentExpired
	}
	idParam := "payment_id"
	if session.PlanID != "" {
		// A card change has no payment: the session says how it went.
		idParam = "payment_session"
		if session.Status == billing.PaymentSessionCompleted {
			status = session.Outcome
		}
	} else if p, err := s.store.GetPayment(ctx, caller, session.ID); err == nil {
		status = p.Status
	} else if billing.KindOf(err) != billing.KindNotFound {
		return err
	}
	d := pageData{T: t, Status: string(status)}
	switch {
	case status == billing.PaymentSucceeded && session.StartPlan:
		d.Heading = t.PlanStarted
	case status == billing.PaymentFailed && session.StartPlan && session.Amount > 0:
		d.Heading = t.Failed
	case status == billing.PaymentSucceeded && session.PlanID != "":
		d.Heading = t.CardUpdated
	case status == billing.PaymentFailed && session.PlanID != "":
		d.Heading = t.CardRefused
	case status == billing.PaymentSucceeded:
		d.Heading = t.Succeeded
	case status == billing.PaymentFailed:
		d.Heading = t.Failed
	case status == billing.PaymentPending:
		d.Heading = t.Pending
	case status == billing.PaymentExpired:
		d.Heading = t.Expired
	default:
		// Not finished: back to the form.
		return c.Redirect(http.StatusSeeOther, "/pay/"+c.Param("token"))
	}
	d.Title = d.Heading
	if session.ReturnURL != "" {
		u, err := url.Parse(session.ReturnURL)
		if err == nil {
			q := u.Query()
			q.Set(idParam, session.ID)
			if session.StartPlan {
				q.Set("plan_id", session.PlanID)
			}
			q.Set("status", string(status))
			u.RawQuery = q.Encode()
			d.ReturnURL = u.String()
		}
	}
	return s.render(c, http.StatusOK, "done.html", d)
}

// cardMessage is what the form says about a card that was not accepted; never the
// card itself.
func cardMessage(err error) string {
	var be *billing.Error
	if errors.As(err, &be) && be.Message != "" {
		return be.Message
	}
	return "The card was not accepted."
}

// browserInfo is the 3-D Secure browser data: the page script's device fields and
// the request's headers and address.
func browserInfo(c echo.Context) providers.BrowserInfo {
	atoi := func(name string) int {
		n, _ := strconv.Atoi(c.FormValue(name))
		return n
	}
	r := c.Request()
	return providers.BrowserInfo{AcceptHeader: r.Header.Get("Accept"), Language: r.Header.Get("Accept-Language"),
		UserAgent: r.UserAgent(), IP: c.RealIP(), TimeZoneOffset: atoi("tz"), ScreenWidth: atoi("sw"),
		ScreenHeight: atoi("sh"), ColorDepth: atoi("cd")}
}
