#include "error.h"

#include <array>

namespace Ferry {

namespace {

constexpr std::array<ErrorCodeInfo, int(ErrorCode::Internal) + 1> Table{{
    {ErrorCode::InvalidArgument, "invalid_argument", 400, "Bad request", "invalid_argument"},
    {ErrorCode::NotFound, "not_found", 404, "Not found", "not_found"},
    {ErrorCode::Conflict, "conflict", 409, "Conflict", "conflict"},
    {ErrorCode::Config, "invalid_config", 500, "Internal error", "internal_error"},
    {ErrorCode::Storage, "storage_error", 503, "Unavailable", "unavailable"},
    {ErrorCode::SchemaTooNew, "schema_too_new", 500, "Internal error", "internal_error"},
    {ErrorCode::Unavailable, "unavailable", 503, "Unavailable", "unavailable"},
    {ErrorCode::InsufficientStorage, "insufficient_storage", 507, "Insufficient storage",
     "insufficient_storage"},
    {ErrorCode::Internal, "internal_error", 500, "Internal error", "internal_error"},
}};

// A row out of place would give a code another code's name and status.
constexpr bool inEnumOrder()
{
    for (std::size_t i = 0; i < Table.size(); ++i) {
        if (int(Table[i].code) != int(i))
            return false;
    }
    return true;
}
static_assert(inEnumOrder(), "errorCodes() rows must follow the order of ErrorCode");

} // namespace

std::span<const ErrorCodeInfo> errorCodes()
{
    return Table;
}

const ErrorCodeInfo &errorCodeInfo(ErrorCode code)
{
    const auto index = std::size_t(code);
    return index < Table.size() ? Table[index] : Table.back();
}

QString errorCodeName(ErrorCode code)
{
    return QString::fromLatin1(errorCodeInfo(code).name);
}

} // namespace Ferry
