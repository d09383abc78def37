#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include <memory>

struct evp_md_ctx_st;

namespace Ferry {

// Incremental SHA-256 over OpenSSL's libcrypto, which uses the CPU's SHA extensions or vector
// units: several times faster than Qt 6.4's QCryptographicHash, whose SHA-256 takes the input a
// byte at a time (it was 30% of the CPU of a 1 MiB upload; see docs/benchmarks.md). Every upload
// is hashed once as it streams in (blobs are content-addressed).
class Sha256 final
{
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256 &&) noexcept;
    Sha256 &operator=(Sha256 &&) noexcept;
    Q_DISABLE_COPY(Sha256)

    void addData(QByteArrayView data);
    // The 32-byte digest of everything added so far.
    QByteArray result() const;

    static QByteArray hash(QByteArrayView data);

private:
    struct Free
    {
        void operator()(evp_md_ctx_st *context) const;
    };
    std::unique_ptr<evp_md_ctx_st, Free> m_context;
};

} // namespace Ferry
