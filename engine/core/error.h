#pragma once

#include <QString>

#include <optional>
#include <span>
#include <utility>
#include <variant>

namespace Ferry {

// The one error model of Ferry (docs/architecture.md, "Errors"): fallible engine calls return
// Result<T>; an Error carries a machine code, a message that says what happened, and a hint that
// says what to do about it. Exceptions never cross the engine's public API.
enum class ErrorCode {
    InvalidArgument, // a caller passed a bad value (priority out of range, unknown job type, ...)
    NotFound,        // the id does not exist for this user
    Conflict,        // the object is in a state that forbids the operation (cancel a finished job)
    Config,          // configuration value is invalid
    Storage,         // the database failed (I/O, corruption, busy beyond the timeout)
    SchemaTooNew,    // the database was written by a newer Ferry
    Unavailable,     // a resource is exhausted for now (connection pool, shutting down)
    InsufficientStorage, // the disk is below its free-space floor (uploads refused: HTTP 507)
    Internal,            // stays last: errorCodes() has one row per value up to it
};

// The one table of error codes: every ErrorCode's name and how the HTTP API answers it.
// docs/api.md ("Error codes") lists it, and tests/api/tst_errorcodes checks that it does.
struct ErrorCodeInfo
{
    ErrorCode code;
    // The code's own name (invalid_argument, storage_error, ...): unique, for logs and tools.
    const char *name;
    int httpStatus;        // the status of an API answer that reports this error
    const char *httpTitle; // its "error" title
    // Its "code". The name, except where clients have always received another one: a storage
    // failure answers "unavailable" (retry later, as for any 503), a configuration or schema
    // error "internal_error".
    const char *apiCode;
};

// In ErrorCode order, one row per value.
std::span<const ErrorCodeInfo> errorCodes();
const ErrorCodeInfo &errorCodeInfo(ErrorCode code);
QString errorCodeName(ErrorCode code);

struct Error
{
    ErrorCode code = ErrorCode::Internal;
    QString message;
    QString hint;

    QString toString() const { return hint.isEmpty() ? message : message + u' ' + hint; }
};

inline Error makeError(ErrorCode code, QString message, QString hint = {})
{
    return Error{code, std::move(message), std::move(hint)};
}

inline const Error &noError()
{
    static const Error none{ErrorCode::Internal, QStringLiteral("(no error)"), {}};
    return none;
}

// A minimal std::expected (C++23) for C++20: either a value or an Error.
template<typename T>
class [[nodiscard]] Result
{
public:
    Result(T value) : m_data(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_data(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_data.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_data); }
    const T &value() const & { return std::get<0>(m_data); }
    T &&value() && { return std::get<0>(std::move(m_data)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    // On success, a placeholder (so diagnostics built eagerly, as QVERIFY2's are, stay safe).
    const Error &error() const { return ok() ? noError() : std::get<1>(m_data); }

private:
    std::variant<T, Error> m_data;
};

template<>
class [[nodiscard]] Result<void>
{
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)) {}

    bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error &error() const { return m_error ? *m_error : noError(); }

private:
    std::optional<Error> m_error;
};

} // namespace Ferry
