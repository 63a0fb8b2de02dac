// Package docs holds callbridge's documentation. Its tests run the commands
// the README and the operator's guide give, so that a reader who follows
// them meets no dead end.
package docs
