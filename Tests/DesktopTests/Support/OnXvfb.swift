import TestSupport
import Testing

/// Every test that needs an X server runs inside this suite, one at a time. Each test has
/// its own Xvfb, so they could run in parallel; serially they do not compete for the two
/// cores of a CI machine, and exactness is judged under the load a desktop normally has
/// (the benchmark measures the rest).
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
enum OnXvfb {}
