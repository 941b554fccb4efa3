package org.anode.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Discovery through the real ServiceLoader, with two providers registered for tests. */
class BackendsTest {

  @AfterEach
  void clearProperty() {
    System.clearProperty(Backends.PROPERTY);
  }

  @Test
  void discoveryRanksProvidersAndReportsAvailability() {
    List<Backends.Found> found = Backends.discover();
    assertEquals(
        List.of("broken", "fake", "lowest"), found.stream().map(f -> f.provider().name()).toList());
    assertTrue(found.get(0).toString().contains("unavailable: UnsatisfiedLinkError"));
  }

  @Test
  void bestAvailableProviderWinsWithoutSetting() {
    assertEquals("fake", Backends.get().name());
    assertSame(Backends.get(), Backends.get("FAKE"));
  }

  /**
   * Asking whether a provider can run loads its native library: choosing one must not ask the
   * others (only the chosen backend starts).
   */
  @Test
  void choosingABackendAsksNoOtherProviderWhetherItCanRun() {
    FakeBackends.ASKED.clear();
    assertEquals("fake", Backends.get("fake").name());
    assertEquals(java.util.Map.of(), FakeBackends.ASKED, "by name: nobody asked");
    assertEquals("fake", Backends.get().name());
    assertEquals(1, FakeBackends.ASKED.get("broken").get(), "by rank: the better one, once");
    assertEquals(null, FakeBackends.ASKED.get("lowest"), "by rank: not the worse one");
  }

  /** One instance per backend and process: other options than it was created with are refused. */
  @Test
  void optionsAreGivenAtCreationAndCheckedAfter() {
    Backend fake = Backends.get("fake");
    assertSame(fake, Backends.get("fake", null), "no options: whatever it was created with");
    assertSame(fake, Backends.get("fake", BackendOptions.fromEnvironment()));
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> Backends.get("fake", new BackendOptions(7)));
    assertTrue(e.getMessage().contains("fake was already created with"), e.getMessage());
    assertTrue(e.getMessage().contains("threads=7"), e.getMessage());
  }

  /** A released backend is closed and forgotten: the next request creates a fresh one. */
  @Test
  void releaseForgetsTheBackend() {
    Backend before = Backends.get("fake");
    Backends.release(before);
    Backend after = Backends.get("fake");
    assertTrue(before != after, "a fresh instance after release");
    assertSame(after, Backends.get("fake"));
  }

  @Test
  void unknownNameListsWhatWasFoundAndWhy() {
    System.setProperty(Backends.PROPERTY, "cuda-magic");
    BackendNotFoundException e = assertThrows(BackendNotFoundException.class, Backends::get);
    String m = e.getMessage();
    assertTrue(m.contains("Unknown backend 'cuda-magic'"), m);
    assertTrue(m.contains("system property anode.backend"), m);
    assertTrue(m.contains("fake (rank 1, available)"), m);
    assertTrue(m.contains("broken (rank 50, unavailable: UnsatisfiedLinkError: no libbroken"), m);
  }

  @Test
  void namedUnavailableBackendSaysWhy() {
    BackendNotFoundException e =
        assertThrows(BackendNotFoundException.class, () -> Backends.get("broken"));
    assertTrue(e.getMessage().contains("cannot run here: UnsatisfiedLinkError"), e.getMessage());
  }

  @Test
  void propertyOverridesRank() {
    System.setProperty(Backends.PROPERTY, "fake");
    assertEquals("fake", Backends.get().name());
  }
}
