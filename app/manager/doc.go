// Package manager guards manager-only actions at the till with a PIN.
//
// # Basics
//
// Some actions need a manager: a discount above the shop's threshold today,
// and later end of day, voiding a paid order and changing settings. The app
// decides which actions those are; this package only answers "is this the
// manager's PIN?".
//
// HashPIN turns a PIN of 4 to 8 digits into an encoded string that is safe to
// keep in the configuration file:
//
//	pbkdf2-sha256$600000$<salt>$<key>
//
// where salt (16 random bytes) and key (32 bytes of PBKDF2-HMAC-SHA256) are in
// unpadded standard base64. The iteration count travels with the hash, so
// hashes made with an older cost keep verifying after DefaultIterations
// changes. Verify compares a typed PIN against such a string in constant time.
//
// A Guard is what the screens call. It holds the encoded hash and counts wrong
// PINs in a row: after MaxFailures of them every check fails with a
// *LockedError until the lock runs out, without even looking at the PIN. Each
// further lockout lasts twice as long as the one before, up to MaxLockFor. A
// right PIN clears the count and the doubling. The count lives in a State
// that the Guard loads once through its Load function and saves through Save
// after every change, so quitting and restarting the app does not lift a
// lockout; StateFile keeps that State in a small JSON file.
//
// Callers branch with errors.Is on the sentinels (ErrWrongPIN, ErrLocked,
// ErrNoPIN, ErrBadPIN, ErrBadHash) and use errors.As to get a *WrongPINError
// (tries left) or a *LockedError (when the lock ends) for the screen. No
// error from this package contains the PIN, the salt or the key.
//
// # Caveats
//
// A 4-digit PIN has only 10,000 values. Against someone guessing at the till,
// the lockout is what protects it, not the hash: with the defaults a guesser
// gets 5 tries per lockout and waits an hour between batches once the
// doubling has reached its cap. The hash is what protects the PIN if the
// configuration file leaks, and for short PINs it only slows recovery down:
// at ~0.1 s per try on one server core, every 4-digit PIN can be tried in
// about a quarter of an hour and every 8-digit PIN in about three months,
// and far faster on a GPU. Prefer longer PINs, keep the configuration file
// readable by the till's user only, and change the PIN if the file leaks.
//
// The hash cost is the point, and it is paid on every check: about 85 ms on
// a 2-core Xeon server (BenchmarkHashPIN), more on low-end till hardware, so
// plan for 0.1 to 0.5 s. Call Check and Verify off the UI goroutine and show
// that the PIN is being checked. A Guard checks one PIN at a time, holding
// its lock while it hashes, so that concurrent guesses cannot slip past the
// count; concurrent callers wait in turn.
//
// The lock ends at a wall-clock time from the Guard's clock. Setting the
// computer's clock forward ends it early; the lockout slows guessing down at
// the till, it does not stop someone who can change the system clock or
// delete the state file, who could also change the configuration.
//
// If Load fails (a corrupt state file), Check fails with that error and
// checks no PIN until Load succeeds: a damaged file must not silently lift a
// lockout. Deleting the file resets the count.
package manager
