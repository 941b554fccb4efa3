package org.anode.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * The resident set grows by what the process touches: 256 MiB of direct memory written one byte per
 * page become resident (the kernel maps a page on its first write), so the reading grows by at
 * least that, less what the kernel may have reclaimed meanwhile (nothing here: no swap, no memory
 * pressure in a test JVM; 32 MiB allowed for other pages leaving).
 */
class ResidentMemoryTest {
  @Test
  void touchedPagesBecomeResident() {
    long before = ResidentMemory.currentBytes();
    int size = 256 << 20;
    ByteBuffer b = ByteBuffer.allocateDirect(size);
    for (int i = 0; i < size; i += 4096) {
      b.put(i, (byte) 1);
    }
    long after = ResidentMemory.currentBytes();
    assertTrue(
        after - before >= size - (32L << 20), "grew by " + ((after - before) >> 20) + " MiB");
    assertTrue(ResidentMemory.peakBytes() >= after, "the peak is at least the current");
    assertTrue(b.get(4096) == 1);
  }
}
