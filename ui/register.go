package ui

import (
	"errors"
	"time"
)

// The cashier screen's contract with the app. The app (package app) owns
// every rule: it formats money for the till's locale, decides what the
// cashier may do next, and runs all I/O off the UI goroutine. The screen
// shows SaleView and calls Register; it does no arithmetic and never reads
// a widget's text back as state.

// Errors the screen branches on. The app wraps them (errors.Is).
var (
	// ErrManagerPIN: the action needs the manager's PIN (a discount above
	// the threshold): ask for it and call again with it.
	ErrManagerPIN = errors.New("this needs the manager's PIN")
	// ErrWrongPIN: the PIN given was wrong; the message says how many
	// tries are left or how long the lock lasts.
	ErrWrongPIN = errors.New("wrong manager PIN")
	// ErrUnknownCode: a scanned or typed code matches no product.
	ErrUnknownCode = errors.New("unknown product code")
	// ErrOffline: the action needs the payment service, which is not
	// reachable now.
	ErrOffline = errors.New("the payment service is not reachable")
)

// Stage is where the current sale is.
type Stage int

// Stages.
const (
	StageCart   Stage = iota // ringing up: products can be added and changed
	StageCard                // a card payment is under way (see CardView)
	StageDone                // paid: Receipt holds the receipt
	StageVoided              // cancelled: Receipt holds the void slip
	StageWallet              // a TWINT or MobilePay payment is under way (see WalletView)
)

// CardStep is where a card payment is.
type CardStep int

// Card steps.
const (
	CardCreating      CardStep = iota // the payment is being set up with the payment service
	CardPresent                       // the reader asks the customer for a card
	CardReading                       // a card was presented; reading it / PIN entry
	CardProcessing                    // the card is being authorised
	CardDeclined                      // declined: Message says why; retry or another tender
	CardCancelled                     // cancelled on the reader or by the cashier: retry or another tender
	CardOffline                       // the payment service is unreachable: take cash or wait
	CardReaderProblem                 // the reader is missing or failed: Message says what
	// CardAuthenticate: a saved card needs the customer to authenticate,
	// which the till cannot do; RetryCard collects the card on the reader
	// for the same payment.
	CardAuthenticate
)

// SaleView is the current sale as the cashier screen shows it. Amounts
// are formatted for the till's locale.
type SaleView struct {
	OrderID string
	Stage   Stage
	Lines   []LineView
	// Subtotal is before the cart discount; CartDiscount is empty when
	// there is none; Tax is the tax included in (or added to) Total.
	Subtotal, CartDiscount, Tax, Total string
	// TaxLines break Tax down by rate ("VAT 8.1 %", "CHF 1.23").
	TaxLines []TaxLineView
	// Paid and Due are what tenders already cover and what is left.
	Paid, Due string

	// What the cashier may do now: the screen enables exactly these.
	CanEdit, CanCharge, CanPayCash, CanCancelCard, CanRetryCard, CanVoid, CanNewSale bool
	// CanBackToCart: the card payment waits for a card (after a decline
	// or a cancellation) and the cart may still change; the next Card
	// then asks for the new amount on the same payment.
	CanBackToCart bool

	// Card is the card payment's progress, in StageCard.
	Card CardView
	// Wallet is the wallet payment's progress, in StageWallet.
	Wallet WalletView
	// Wallets are the wallet tenders of this till, in StageCart: each
	// says whether it can take this sale and, if not, why.
	Wallets []WalletOption

	// Customer is the returning customer attached to the sale, or nil.
	Customer *CustomerView
	// CanChooseCustomer: a customer may be looked up and attached (or
	// detached) now; CanChargeSaved: one of their saved methods may be
	// charged now.
	CanChooseCustomer, CanChargeSaved bool
	// CanSaveCard: with a customer attached, the next card may be saved
	// for later; SaveCard is the customer's consent as given.
	CanSaveCard, SaveCard bool
	// CanRetryWallet and CanCancelWallet: after a failed or expired
	// wallet payment, ask again on the same payment, or give it up (then
	// another tender or a changed cart).
	CanRetryWallet, CanCancelWallet bool
	// CashDue is what cash must cover, after cash rounding (may differ
	// from Due by the rounding), for the cash dialog.
	CashDue string
	// Receipt is set in StageDone and StageVoided.
	Receipt *ReceiptView
}

// LineView is one cart line.
type LineView struct {
	ID        int
	Name      string
	Quantity  int64
	UnitPrice string
	Discount  string // e.g. "−10 %" or "−CHF 1.00"; empty when none
	Total     string // after the line discount
}

// TaxLineView is the tax at one rate.
type TaxLineView struct {
	Label, Amount string
}

// CardView is a card payment's progress.
type CardView struct {
	Step CardStep
	// Message is for the cashier: the decline reason, the reader's
	// prompt, what is wrong. Always set.
	Message string
	Amount  string
}

// WalletView is a wallet payment's progress.
type WalletView struct {
	Kind  string // "twint", "mobilepay"
	Label string // "TWINT", "MobilePay"
	Step  WalletStep
	// Message is for the cashier (and names what the customer does).
	// Always set.
	Message string
	Amount  string
	// URL is what the QR code encodes, in WalletScan; empty otherwise.
	URL string
	// Expires is when the customer's time to authorise runs out, for a
	// countdown; zero when the wallet sets no limit (TWINT).
	Expires time.Time
}

// WalletStep is where a wallet payment is.
type WalletStep int

// Wallet steps.
const (
	WalletCreating WalletStep = iota // asking the payment service for the QR code
	WalletScan                       // the QR code is shown: the customer scans and authorises
	WalletFailed                     // refused, expired or cancelled: Message says which; retry, other tender or cancel
	WalletOffline                    // the payment service is unreachable
)

// WalletOption is a wallet tender as the cart offers it.
type WalletOption struct {
	Kind    string // "twint", "mobilepay": what ChargeWallet takes
	Label   string // "TWINT"
	Enabled bool
	// Why it cannot take this sale ("TWINT takes CHF only", "offline");
	// empty when Enabled.
	Why string
}

// CustomerView is a returning customer.
type CustomerView struct {
	ID                 string
	Name, Email, Phone string
}

// SavedMethodView is one of a customer's saved payment methods.
type SavedMethodView struct {
	ID string
	// Type is the API's ("card", "sepa_debit", …); Label is for people:
	// "VISA •••• 4242", "SEPA Direct Debit •••• 3000".
	Type, Label string
	Expiry      string // "12/2028"; empty when the method has none
	// Usable is false for a method the till cannot charge (an expired
	// card, a type not offered in this currency); Why says why.
	Usable bool
	Why    string
}

// ReceiptView is a printed receipt (or void slip).
type ReceiptView struct {
	OrderID string
	At      time.Time
	Voided  bool
	// Pending: a payment on it is still being processed (a SEPA debit);
	// the receipt says "payment pending".
	Pending bool
	Lines   []LineView
	// Subtotal, CartDiscount, Tax, TaxLines and Total as in SaleView.
	Subtotal, CartDiscount, Tax, Total string
	TaxLines                           []TaxLineView
	Tenders                            []TenderView
	Change                             string // cash change given; empty when none
	// Voidable: a finished, paid sale the manager may void (its payments
	// cancelled or refunded) with Register.VoidPaid.
	Voidable bool
}

// TenderView is one payment on a receipt.
type TenderView struct {
	Kind   string // "Card", "Cash", "TWINT", "MobilePay", "SEPA Direct Debit"
	Amount string
	Detail string // "VISA •••• 4242 (contactless)", "given CHF 20.00", "payment pending"
}

// ProductView is a product button.
type ProductView struct {
	SKU, Name, Price, Category string
}

// Connectivity is the payment service as the outbox sees it.
type Connectivity int

// Connectivity states.
const (
	ConnUnknown Connectivity = iota
	ConnOnline
	ConnOffline
)

// ReaderState is the card reader as the status bar shows it.
type ReaderState int

// Reader states.
const (
	ReaderDisconnected ReaderState = iota // unplugged or not found
	ReaderConnecting
	ReaderReady
	ReaderBusy
)

// StatusBarView is the always-visible status bar.
type StatusBarView struct {
	Connectivity  Connectivity
	Pending       int       // outbox entries not yet delivered
	OldestPending time.Time // zero when none
	Dead          int       // dead letters, for the manager
	Reader        ReaderState
	ReaderDetail  string // model, or why there is none

	// Card payments taken offline and not yet forwarded to the payment
	// service: how many, their total ("CHF 120.00"; currencies joined by
	// " + "), when the oldest was taken (zero when none), and whether it
	// is older than the store's limit (24 h by default): then the bar
	// warns.
	OfflineStored  int
	OfflineAmount  string
	OfflineOldest  time.Time
	OfflineOverdue bool
	// NearExpiry counts uncaptured card authorisations close to expiry:
	// the manager should run end of day.
	NearExpiry int
	// Attention counts the items on the manager's list: declines after
	// forwarding, payments that failed, dead letters.
	Attention int
}

// Register is what the cashier screen drives. Calls that change the sale
// return quickly (a local commit at most) and never wait for the network
// or the reader; progress arrives as changes (Subscribe), after which the
// screen reads Sale and Status again. Errors are for the cashier: show
// them as they are.
type Register interface {
	// Categories in display order, and the products of one category.
	Categories() []string
	Products(category string) []ProductView
	// Search finds products by name or code for the search field.
	Search(query string) []ProductView

	Sale() SaleView
	Status() StatusBarView
	// Subscribe registers fn, called (from any goroutine) after every
	// change to the sale or the status bar. It must not block.
	Subscribe(fn func())

	// Add adds one of a product (by SKU) to the cart.
	Add(sku string) error
	// Scan adds the product with this barcode or SKU, as a USB scanner
	// types it; ErrUnknownCode when nothing matches.
	Scan(code string) error
	SetQuantity(lineID int, qty int64) error
	Remove(lineID int) error
	// SetLineDiscount and SetCartDiscount take what the cashier typed:
	// "10%" or an amount ("1.50"); "" or "0" removes the discount. Above
	// the manager threshold they fail with ErrManagerPIN unless pin is the
	// manager's PIN.
	SetLineDiscount(lineID int, discount, pin string) error
	SetCartDiscount(discount, pin string) error

	// ChargeCard starts a card payment for what is due.
	ChargeCard() error
	// CancelCard cancels the card collection on the reader.
	CancelCard() error
	// RetryCard collects another card on the same payment, after a
	// decline or a cancellation.
	RetryCard() error
	// PayCash settles what is due in cash; given is what the cashier
	// typed, and SaleView.CashDue itself means the exact amount. A card
	// payment not yet authorised is cancelled with it.
	PayCash(given string) error
	// ChangeFor previews the change for given ("" when not enough).
	ChangeFor(given string) (string, error)
	// BackToCart reopens the cart of a sale whose card payment waits for
	// a card, so the cashier can change it before charging again.
	BackToCart() error
	// Void cancels the current sale (and its card payment, if any).
	Void() error
	// NewSale starts the next sale after a receipt.
	NewSale() error

	// Receipts are the last n finished sales, newest first, for reprint.
	Receipts(n int) []ReceiptView
	// VoidPaid voids a completed sale (ReceiptView.Voidable): uncaptured
	// payments are cancelled, captured ones refunded, offline ones never
	// forwarded — through the outbox. reason is the manager's, required.
	// pin must be the manager's PIN: ErrManagerPIN when it is empty, the
	// app's error (wrapping ErrWrongPIN) when it is wrong or locked out.
	VoidPaid(orderID, reason, pin string) error

	// ChargeWallet starts a wallet payment ("twint", "mobilepay") for
	// what is due; refused with a clear error when offline, in the wrong
	// currency or above the wallet's limit (SaleView.Wallets says so
	// beforehand).
	ChargeWallet(kind string) error
	// RetryWallet asks the customer again on the same payment, after a
	// failure or expiry (a new QR code).
	RetryWallet() error
	// CancelWallet gives the wallet payment up (cancelled with the
	// payment service through the outbox); the sale goes back to the
	// tender choice.
	CancelWallet() error

	// FindCustomers looks customers up by email, phone or name (needs
	// the connection; ErrOffline when there is none).
	FindCustomers(query string) ([]CustomerView, error)
	// SetCustomer attaches a customer to the sale ("" detaches).
	SetCustomer(id string) error
	// SavedMethods are the attached customer's saved payment methods.
	SavedMethods() ([]SavedMethodView, error)
	// ChargeSaved charges one of them for what is due. If the bank asks
	// for authentication the card step becomes CardAuthenticate.
	ChargeSaved(paymentMethodID string) error
	// SetSaveCard records the customer's consent to keep the next card
	// for later (SaleView.CanSaveCard).
	SetSaveCard(save bool) error
}

// CardSimulator is offered by the built-in simulated reader: the screen
// shows "simulate" buttons so a demo can play the customer.
type CardSimulator interface {
	// TestCards names the cards the simulator can present.
	TestCards() []string
	// PresentCard taps card on the simulated reader (now collecting).
	PresentCard(card string) error
	// CustomerCancel presses cancel on the simulated reader.
	CustomerCancel() error
}

// Settings are the till settings the cashier screen offers (behind the
// manager's PIN).
type Settings interface {
	// Language is the chosen language ("" follows the system), and
	// Languages those with translations ("en", "fr", "de").
	Language() string
	Languages() []string
	// SetLanguage saves the choice; pin must be the manager's PIN.
	SetLanguage(tag, pin string) error
}

// WalletSimulator plays the customer's phone when the payment service is
// the built-in sandbox: the screen shows "approve" and "refuse" buttons
// beside the QR code so a demo can finish a wallet payment.
type WalletSimulator interface {
	// ApproveWallet and RefuseWallet answer the wallet page at url (the
	// QR code's) as the customer would.
	ApproveWallet(url string) error
	RefuseWallet(url string) error
}
