#pragma once
// Whether resident memory says anything in this build: AddressSanitizer quarantines freed memory
// (and adds its shadow), so under it an RSS bound would measure the sanitizer, not Ferry. Tests
// that bound RSS assert it only where it is meaningful, and still log the figure.

#if defined(__SANITIZE_ADDRESS__)
#define FERRY_RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_RSS_MEANINGFUL 0
#endif
#endif
#ifndef FERRY_RSS_MEANINGFUL
#define FERRY_RSS_MEANINGFUL 1
#endif
