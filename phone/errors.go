package phone

import "errors"

// ErrInvalidNumber is returned (wrapped, with the reason) for any input that
// cannot be turned into a dialable E.164 number.
var ErrInvalidNumber = errors.New("invalid phone number")
