package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.anode.api.BackendOptions;
import org.anode.api.DType;
import org.anode.backend.nd4j.Nd4jProvider;
import org.anode.conformance.BackendConformanceSuite;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * The path of a new backend's author, run as they would: depend on {@code anode-conformance},
 * subclass {@link BackendConformanceSuite} with a backend built with options, declare what the
 * backend does not do and loosen a tolerance, run it with JUnit. Here the "new" backend is ND4J
 * with one thread, claiming no dilated convolutions and skipping pooling.
 */
class BackendAuthorPathTest {

  /** What the author writes (not run by surefire itself: a nested class). */
  static final class AuthorsConformanceTest extends BackendConformanceSuite {
    AuthorsConformanceTest() {
      super(new Nd4jProvider().create(new BackendOptions(1)));
    }

    @Override
    protected boolean supportsDilation() {
      return false;
    }

    @Override
    protected double tolerance(DType dtype) {
      return dtype == DType.FLOAT32 ? 3e-5 : TOL64;
    }

    @Override
    protected Map<String, String> skipped() {
      return Map.of("pooling", "average pooling comes in the next release");
    }
  }

  @Test
  void aSubclassWithOptionsCapabilitiesAndSkipsRunsGreen() {
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    List<String> skipped = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    TestExecutionListener record =
        new TestExecutionListener() {
          @Override
          public void executionSkipped(TestIdentifier test, String reason) {
            skipped.add(test.getDisplayName() + ": " + reason);
          }

          @Override
          public void executionFinished(TestIdentifier test, TestExecutionResult result) {
            if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
              failed.add(test.getDisplayName() + ": " + result.getThrowable().orElse(null));
            }
          }
        };
    LauncherFactory.create()
        .execute(
            LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(AuthorsConformanceTest.class))
                .build(),
            summary,
            record);
    var s = summary.getSummary();
    assertEquals(List.of(), failed, "failures");
    assertEquals(2, skipped.size(), "pooling in float32 and float64: " + skipped);
    for (String reason : skipped) {
      assertTrue(reason.contains("average pooling comes in the next release"), reason);
    }
    assertTrue(s.getTestsSucceededCount() >= 30, "succeeded: " + s.getTestsSucceededCount());
    System.out.printf(
        "author's suite: %d passed, %d skipped (%s)%n",
        s.getTestsSucceededCount(), skipped.size(), skipped);
  }
}
