#pragma once

#include <QString>

#include <mutex>

namespace Ferry {

// Free-disk bookkeeping for a store that lives on a local file system (SQLite).
//
// Two things keep a full disk from leaving half an import behind:
//  - the floor: imports stop, with an error naming --min-free-disk-mb, while room remains;
//  - the reserve: a file of a few MiB kept beside the database. When the disk fills anyway
//    (no floor, or another program filled it), undoing a failed import and recording its end
//    need room in the WAL too; the reserve is given back for them, and taken again once the
//    disk has room.
class DiskReserve final
{
public:
    static constexpr qint64 DefaultBytes = qint64(4) << 20;

    // path: the reserve file (e.g. "<db>.reserve"); floorBytes: the free-disk floor, 0 = none.
    DiskReserve(QString path, qint64 floorBytes, qint64 reserveBytes = DefaultBytes);

    // Free bytes on the file system of the reserve file; -1 when unknown.
    qint64 freeBytes() const;
    qint64 floorBytes() const { return m_floor; }
    // True when an import may write another batch: free space, less pendingBytes that are
    // already promised (a WAL not yet copied into the database grows it by up to its size),
    // is at or above the floor.
    bool aboveFloor(qint64 pendingBytes = 0) const;
    // Creates the reserve when it is missing and the disk has room for it and the floor.
    void ensure();
    // Deletes the reserve; true when it existed (room was given back).
    bool release();

private:
    QString m_path;
    qint64 m_floor;
    qint64 m_bytes;
    std::mutex m_mutex;
};

} // namespace Ferry
