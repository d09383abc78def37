#include "gzip.h"

#include <QtGlobal>

#include <zlib.h>

namespace Ferry::Test {

QByteArray gzipStream(const std::function<QByteArray()> &produce, int level)
{
    z_stream stream{};
    // 15 + 16: the largest window, with a gzip header and trailer rather than zlib's.
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        qFatal("deflateInit2 failed");
    QByteArray out;
    QByteArray buffer(64 * 1024, Qt::Uninitialized);
    for (;;) {
        const QByteArray in = produce();
        const int flush = in.isEmpty() ? Z_FINISH : Z_NO_FLUSH;
        stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.constData()));
        stream.avail_in = uInt(in.size());
        int rc = Z_OK;
        do {
            stream.next_out = reinterpret_cast<Bytef *>(buffer.data());
            stream.avail_out = uInt(buffer.size());
            rc = deflate(&stream, flush);
            out.append(buffer.constData(), buffer.size() - qsizetype(stream.avail_out));
        } while (stream.avail_out == 0);
        if (flush == Z_FINISH) {
            if (rc != Z_STREAM_END)
                qFatal("deflate did not finish");
            break;
        }
    }
    deflateEnd(&stream);
    return out;
}

QByteArray gzip(const QByteArray &data, int level)
{
    bool given = false;
    return gzipStream(
        [&] {
            if (given)
                return QByteArray();
            given = true;
            return data;
        },
        level);
}

QByteArray gzipRepeated(const QByteArray &block, qint64 repeat, int level)
{
    qint64 given = 0;
    return gzipStream(
        [&] {
            if (given == repeat || block.isEmpty())
                return QByteArray();
            ++given;
            return block; // shared, not copied
        },
        level);
}

} // namespace Ferry::Test
