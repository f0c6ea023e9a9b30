package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The key layout of the one Pebble DB: a prefix byte per key space, then
// big-endian integers, so that byte order is numeric order and each key
// space is one contiguous range.
const (
	prefixRecord   = 'L' // 'L' + be64(position) -> record
	prefixMetadata = 'M' // 'M' -> metadata of the current snapshot
	prefixChunk    = 'S' // 'S' + be64(generation) + be64(sequence) -> snapshot chunk
	prefixIndex    = 'X' // 'X' + caller key -> caller value
	prefixTable    = 'T' // 'T' + caller key -> caller value, outliving snapshots
)

const (
	// integerBytes is the size of one big-endian uint64 in a key or value.
	integerBytes = 8
	// recordKeyBytes is the size of a record key.
	recordKeyBytes = 1 + integerBytes
	// chunkKeyBytes is the size of a snapshot chunk key.
	chunkKeyBytes = 1 + 2*integerBytes
	// metadataBytes is the size of the metadata value; metadataBytesOld
	// that of a store written before retention (no truncated field).
	metadataBytes    = 4 * integerBytes
	metadataBytesOld = 3 * integerBytes
)

var (
	// metadataKey is the one key of the metadata key space.
	metadataKey = []byte{prefixMetadata}
	// recordsStart and recordsEnd bound the record key space.
	recordsStart = []byte{prefixRecord}
	recordsEnd   = []byte{prefixRecord + 1}
	// chunksStart and chunksEnd bound the snapshot chunk key space.
	chunksStart = []byte{prefixChunk}
	chunksEnd   = []byte{prefixChunk + 1}
)

// errCorrupt reports stored bytes that this package did not write.
var errCorrupt = errors.New("wal: corrupt store")

// putRecordKey writes the key of position into key.
//
// REQUIRES: len(key) == recordKeyBytes.
func putRecordKey(key []byte, position uint64) {
	key[0] = prefixRecord
	binary.BigEndian.PutUint64(key[1:], position)
}

// recordKey returns a new key of position.
func recordKey(position uint64) []byte {
	key := make([]byte, recordKeyBytes)
	putRecordKey(key, position)
	return key
}

// positionOf decodes a record key.
func positionOf(key []byte) (uint64, error) {
	if len(key) != recordKeyBytes || key[0] != prefixRecord {
		return 0, fmt.Errorf("%w: record key %x", errCorrupt, key)
	}
	return binary.BigEndian.Uint64(key[1:]), nil
}

// putChunkKey writes the key of chunk sequence of generation into key.
//
// REQUIRES: len(key) == chunkKeyBytes.
func putChunkKey(key []byte, generation, sequence uint64) {
	key[0] = prefixChunk
	binary.BigEndian.PutUint64(key[1:], generation)
	binary.BigEndian.PutUint64(key[1+integerBytes:], sequence)
}

// generationStart returns the smallest key of generation's chunks; the
// chunks of generation g are the range [generationStart(g), generationStart(g+1)).
func generationStart(generation uint64) []byte {
	key := make([]byte, 1+integerBytes)
	key[0] = prefixChunk
	binary.BigEndian.PutUint64(key[1:], generation)
	return key
}

// decodeChunkKey returns the generation and sequence of a chunk key.
func decodeChunkKey(key []byte) (generation, sequence uint64, err error) {
	if len(key) != chunkKeyBytes || key[0] != prefixChunk {
		return 0, 0, fmt.Errorf("%w: chunk key %x", errCorrupt, key)
	}
	generation = binary.BigEndian.Uint64(key[1:])
	sequence = binary.BigEndian.Uint64(key[1+integerBytes:])
	return generation, sequence, nil
}

// metadata describes the current snapshot. Generation 0 means there is none;
// each written snapshot takes a new generation so that its chunks never mix
// with those of the snapshot it replaces, or of an attempt that crashed.
type metadata struct {
	generation uint64
	position   uint64 // the snapshot's state is as of this position
	chunks     uint64 // how many chunks the generation has
	// truncated is the last record position deleted: at most position, and
	// below it while a retention keeps records behind the snapshot (see
	// WriteSnapshotRetaining). Records truncated+1 .. are all present.
	truncated uint64
}

func (m metadata) encode() []byte {
	value := make([]byte, metadataBytes)
	binary.BigEndian.PutUint64(value, m.generation)
	binary.BigEndian.PutUint64(value[integerBytes:], m.position)
	binary.BigEndian.PutUint64(value[2*integerBytes:], m.chunks)
	binary.BigEndian.PutUint64(value[3*integerBytes:], m.truncated)
	return value
}

func decodeMetadata(value []byte) (metadata, error) {
	if len(value) != metadataBytes && len(value) != metadataBytesOld {
		return metadata{}, fmt.Errorf("%w: metadata of %d bytes", errCorrupt, len(value))
	}
	m := metadata{
		generation: binary.BigEndian.Uint64(value),
		position:   binary.BigEndian.Uint64(value[integerBytes:]),
		chunks:     binary.BigEndian.Uint64(value[2*integerBytes:]),
	}
	m.truncated = m.position // a store written before retention truncated at each snapshot
	if len(value) == metadataBytes {
		m.truncated = binary.BigEndian.Uint64(value[3*integerBytes:])
	}
	if m.truncated > m.position {
		return metadata{}, fmt.Errorf("%w: metadata truncated %d beyond its snapshot at %d", errCorrupt, m.truncated, m.position)
	}
	return m, nil
}
