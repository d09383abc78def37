#pragma once

// gzip for tests that upload or read compressed bodies: one copy of the zlib calls for the
// whole suite. Every function returns one gzip member (RFC 1952); concatenate results for
// several members.
#include <QByteArray>

#include <functional>

namespace Ferry::Test {

// zlib levels, for when a test cares: the fastest for big inputs, the smallest for bombs.
inline constexpr int GzipFastest = 1;
inline constexpr int GzipDefault = 6;
inline constexpr int GzipSmallest = 9;

// data, compressed.
QByteArray gzip(const QByteArray &data, int level = GzipDefault);

// The bytes produce() hands out until it returns an empty array, compressed as a stream, so that
// a huge input never exists in memory at once.
QByteArray gzipStream(const std::function<QByteArray()> &produce, int level = GzipDefault);

// repeat copies of block (a gzip bomb is a big repeat of a small block), compressed as a stream.
QByteArray gzipRepeated(const QByteArray &block, qint64 repeat, int level = GzipFastest);

} // namespace Ferry::Test
