// swift-tools-version: 6.1
import PackageDescription

// libsrtp: the project's own OpenSSL build (scripts/bootstrap.sh) by default;
// LIVESFU_SRTP=debian selects Debian's NSS-based libsrtp2-dev as a fallback.
let srtpPkgConfig = Context.environment["LIVESFU_SRTP"] == "debian" ? "libsrtp2" : "libsrtp2_ossl"

let useDebianSRTP = Context.environment["LIVESFU_SRTP"] == "debian"

// Release `livesfu` only (debug and test builds link as before, so they stay quick): idle RSS
// is mostly file-backed pages of the libraries the server maps (perf/RESULTS.md, "Idle RSS").
//  - `-static-stdlib`: the Swift runtime, Foundation, Dispatch and the regex libraries are
//    linked in, so only the code actually run is paged in, not whole relocated .so files.
//    The modules are compiled as usual (against the shared libraries' interfaces), which do
//    not name FoundationEssentials' two internal archives: they are listed here.
//  - lld with `-z pack-relative-relocs` (DT_RELR, glibc >= 2.36): a few kB of relocations
//    instead of a 1.3 MB `.rela.dyn` that the loader reads in full at every start.
//  - `--no-export-dynamic`: `-static-stdlib` exports every symbol of the package's own
//    objects (18k), whose tables the loader then consults for each symbol it binds.
//  - `.deps/static-cxx` (made by scripts/bootstrap.sh) holds only libstdc++.a: found there
//    first, the C++ runtime is linked in too. Without that folder libstdc++.so is used.
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims", "-use-ld=lld",
            "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            "-Xlinker", "--no-export-dynamic",
            "-L\(Context.packageDirectory)/.deps/static-cxx",
        ], .when(platforms: [.linux], configuration: .release))
]
let strict: [SwiftSetting] =
    [.swiftLanguageMode(.v6)] + (useDebianSRTP ? [.define("LIVESFU_SRTP_DEBIAN")] : [])

let package = Package(
    name: "livesfu",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "livesfu", targets: ["Main"]),
        .executable(name: "livesfu-load", targets: ["livesfu-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // C: what Swift's Glibc module lacks (mmsghdr, epoll, eventfd, CMSG, GSO, affinity).
        .target(name: "CShim", cSettings: [.define("_GNU_SOURCE")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: srtpPkgConfig, providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CURing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "COgg", pkgConfig: "ogg", providers: [.apt(["libogg-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM warns about; the
        // header is in the standard include path (<hiredis/hiredis.h>).
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),

        .target(
            name: "Reactor",
            dependencies: ["CShim", "CURing"],
            swiftSettings: strict),
        .target(
            name: "SFU",
            dependencies: ["Reactor", "CShim", "COpenSSL", "CSRTP", "COgg"],
            swiftSettings: strict),
        // Recording off the media cores: the writer thread, the catalog and its sidecars.
        .target(
            name: "Storage",
            dependencies: ["Reactor", "SFU", "S3"],
            swiftSettings: strict),
        // Several nodes as one service (CLUSTER_REDIS_URL): the room directory and node registry
        // in Redis (hiredis), on a thread of its own, off the media cores.
        // The edges' WHEP exchanges with their origins use libcurl on a thread of their own.
        .target(name: "Cluster", dependencies: ["CHiredis", "CCurl", "COpenSSL", "CShim", "Reactor"], swiftSettings: strict),
        .target(
            name: "HTTP",
            dependencies: [
                "Reactor", "SFU", "Storage", "S3", "Cluster", "COpenSSL", "Telemetry",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict),
        // Uploads to S3-compatible storage on worker threads of their own (libcurl: HTTP, TLS,
        // SigV4; libcrypto: the payload SHA-256 that SigV4 signs).
        // OTLP/HTTP traces on an exporter thread of their own (libcurl; README, "Tracing").
        .target(name: "Telemetry", dependencies: ["CCurl", "Reactor"], swiftSettings: strict),
        .target(name: "S3", dependencies: ["CCurl", "COpenSSL", "Reactor"], swiftSettings: strict),
        .executableTarget(
            name: "Main",
            dependencies: [
                "Reactor", "SFU", "Storage", "S3", "HTTP", "Cluster",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            linkerSettings: releaseLinking),

        .executableTarget(
            name: "livesfu-load",
            dependencies: [
                "Reactor", "SFU",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "perf/LoadGen",
            swiftSettings: strict),
        // Uploads one file with S3Client/UploadQueue: drives the client from
        // Tests/Interop/test_s3_upload.py against a real S3 server (moto).
        .executableTarget(name: "livesfu-s3", dependencies: ["S3", "SFU"], swiftSettings: strict),
        .executableTarget(
            name: "livesfu-srtp-bench",
            dependencies: ["SFU", "Reactor"],
            path: "perf/SRTPBench",
            exclude: ["README.md"],
            swiftSettings: strict),
        // Fan-out benchmark: a real RoomManager with N real viewers over loopback, CPU per
        // forwarded packet and a count of heap allocations on the per-packet path.
        .target(name: "CAllocCounter", path: "Sources/CAllocCounter"),
        .executableTarget(
            name: "livesfu-fanout-bench",
            dependencies: ["SFU", "Storage", "Reactor", "CShim", "CAllocCounter"],
            path: "perf/FanoutBench",
            exclude: ["run.sh"],
            swiftSettings: strict),
        .executableTarget(
            name: "livesfu-reactor-bench",
            dependencies: ["Reactor", "CShim"],
            path: "perf/ReactorBench",
            swiftSettings: strict),

        // libFuzzer harness: only with LIVESFU_FUZZ=1 (Tests/Fuzz/run.sh, scripts/test.sh),
        // since it links libFuzzer's driver and is built with -sanitize=fuzzer,address and
        // -enable-testing (the DTLS record layer and the static-path check are internal).
    ] + (Context.environment["LIVESFU_FUZZ"] == "1" ? [
        .executableTarget(
            name: "livesfu-fuzz",
            dependencies: [
                "SFU", "HTTP", "Reactor", "COpenSSL",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/Fuzz/Harness",
            swiftSettings: strict),
    ] : []) + [
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "CShim"], swiftSettings: strict),
        // The deterministic simulation's hold on OpenSSL's clock and randomness (test binary only).
        .target(name: "CSimulation", dependencies: ["COpenSSL"], path: "Tests/CSimulation"),
        .testTarget(
            name: "SFUTests",
            dependencies: [
                "SFU", "CAllocCounter", "CSimulation", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["SDP/Fixtures", "Congestion/Fixtures"],
            swiftSettings: strict),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "SFU", "Storage", "Cluster", "Telemetry"], swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "SFU", "Reactor"], swiftSettings: strict),
        .testTarget(name: "S3Tests", dependencies: ["S3"], swiftSettings: strict),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Reactor"], swiftSettings: strict),
    ]
)
