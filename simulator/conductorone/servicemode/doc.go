// Package servicemode holds the end-to-end test of the production path:
// baton-fullstory, built from this repository and run as a child process in
// service mode, authenticates to the in-process ConductorOne simulator, takes
// its tasks, and works against the in-process Fullstory simulator.
package servicemode
