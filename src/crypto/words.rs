//! The word list of generated room codes: 256 short, distinct, everyday
//! English words (8 bits each). Changing it changes nothing already derived
//! (a code is hashed as typed), only what new codes look like.

pub const WORDS: [&str; 256] = [
    "acorn", "amber", "anchor", "apple", "arch", "arrow", "aspen", "atlas", "autumn", "badge",
    "bamboo", "banjo", "barley", "basil", "beacon", "beam", "berry", "birch", "bison", "blaze",
    "bloom", "bolt", "breeze", "brick", "brook", "cabin", "cactus", "camel", "candle", "canoe",
    "canyon", "cargo", "cedar", "chalk", "cherry", "chess", "cider", "cinder", "citrus", "clay",
    "cliff", "clock", "cloud", "clover", "cobalt", "comet", "copper", "coral", "cotton", "crane",
    "crater", "creek", "crown", "crystal", "cumin", "daisy", "dawn", "delta", "desert", "dingo",
    "dolphin", "dome", "dove", "dragon", "drift", "dune", "eagle", "echo", "ember", "emerald",
    "falcon", "fern", "fiddle", "field", "fig", "finch", "fjord", "flame", "flint", "flute",
    "forest", "fossil", "fox", "frost", "garden", "garnet", "gecko", "ginger", "glacier", "glade",
    "globe", "granite", "grape", "gravel", "grove", "gull", "harbor", "harp", "hazel", "heron",
    "hill", "honey", "horizon", "husky", "iris", "island", "ivory", "jade", "jasmine", "jelly",
    "jungle", "kayak", "kelp", "kettle", "kiwi", "koala", "lagoon", "lantern", "larch", "lark",
    "lava", "lemon", "lilac", "lily", "linen", "lotus", "lunar", "lynx", "magnet", "mango",
    "maple", "marble", "meadow", "melon", "mesa", "meteor", "mint", "mirror", "moose", "moss",
    "mountain", "nectar", "nest", "nickel", "nimbus", "oak", "oasis", "ocean", "olive", "onyx",
    "opal", "orbit", "orchid", "otter", "owl", "panda", "paper", "parrot", "peach", "pearl",
    "pebble", "pepper", "pine", "planet", "plum", "polar", "pond", "poppy", "prairie", "prism",
    "pumpkin", "quartz", "quill", "rabbit", "radar", "raven", "reef", "ridge", "river", "robin",
    "rocket", "rose", "ruby", "saffron", "sage", "salmon", "sand", "satin", "shell", "sierra",
    "silver", "sky", "slate", "snow", "solar", "sparrow", "spruce", "squid", "star", "stone",
    "storm", "summit", "sun", "swan", "tango", "thistle", "thunder", "tide", "tiger", "timber",
    "topaz", "torch", "tulip", "tundra", "turtle", "umber", "valley", "velvet", "violet",
    "volcano", "walnut", "walrus", "wave", "willow", "wind", "winter", "wolf", "yarrow", "zebra",
    "zenith", "zinc", "bright", "calm", "clever", "eager", "gentle", "happy", "jolly", "lucky",
    "merry", "noble", "proud", "quick", "quiet", "rapid", "silent", "swift", "badger", "beetle",
    "bramble", "cobra", "dahlia", "fable", "hollow", "igloo", "juniper",
];
