//! Notices: what an applet tells the person at this node ("you're next in
//! queue help"), without the node knowing the applet.
//!
//! An applet answers [`Applet::notices`](super::fold::Applet::notices)
//! from its folded state: the notices that **hold now** for node `me`
//! (level-triggered, a pure function of the state, so the fold stays the
//! same on every node). The op-log actor asks every applet after each
//! batch of ops it takes in (and at start), and a [`NoticeBoard`] turns the
//! answers into news: a notice is raised (`Event::Notice`) when it holds
//! and did not at the last look, once; while it keeps holding it is not
//! raised again; once it stops holding and comes back, it is raised again.
//! Two notices are the same notice when their [`Notice::name`] and
//! [`Notice::about`] are equal (the text and badge may change without
//! raising it again).

use std::collections::BTreeSet;

/// One thing an applet has to tell the local user.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notice {
    /// What kind of notice: a `snake_case` word, unique within its applet
    /// and distinct from the node's own event names (the line client's
    /// JSON event is named by it): `queue_head`.
    pub name: &'static str,
    /// What it is about, as named values: `[("queue", "help")]`. With
    /// `name` it tells one notice from another, and each pair is a field
    /// of the line client's JSON event (`event`, `applet` and `text` are
    /// taken: pairs with those keys are left out there).
    pub about: Vec<(&'static str, String)>,
    /// One sentence for people: `you're next in queue help`.
    pub text: String,
    /// A few words the full-screen client keeps in its status bar once
    /// the notice is raised (`YOU'RE NEXT in help`), if any.
    pub badge: Option<String>,
}

impl Notice {
    /// A notice `name` about `about`, reading `text`, without a badge.
    pub fn new(name: &'static str, about: Vec<(&'static str, String)>, text: String) -> Notice {
        Notice {
            name,
            about,
            text,
            badge: None,
        }
    }

    /// The same notice with a status-bar badge.
    pub fn with_badge(mut self, badge: String) -> Notice {
        self.badge = Some(badge);
        self
    }
}

/// What tells notices apart: the applet, the notice's name and what it is
/// about.
type NoticeKey = (&'static str, &'static str, Vec<(&'static str, String)>);

/// Remembers which notices held at the last look, so that each is raised
/// once per time it comes to hold (see the [module docs](self)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeBoard {
    held: BTreeSet<NoticeKey>,
}

impl NoticeBoard {
    /// Takes every applet's notices that hold now, `(applet, notice)`, and
    /// returns those that did not hold at the last call, in the order
    /// given. What holds now is remembered for the next call.
    pub fn update(&mut self, now: Vec<(&'static str, Notice)>) -> Vec<(&'static str, Notice)> {
        let mut held = BTreeSet::new();
        let mut news = Vec::new();
        for (applet, notice) in now {
            let key = (applet, notice.name, notice.about.clone());
            if !self.held.contains(&key) && !held.contains(&key) {
                news.push((applet, notice));
            }
            held.insert(key);
        }
        self.held = held;
        news
    }

    /// How many notices held at the last look.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no notice held at the last look.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(queue: &str) -> (&'static str, Notice) {
        (
            "queue",
            Notice::new(
                "queue_head",
                vec![("queue", queue.to_string())],
                format!("you're next in queue {queue}"),
            ),
        )
    }

    #[test]
    fn a_notice_is_raised_once_while_it_holds_and_again_when_it_comes_back() {
        let mut board = NoticeBoard::default();
        assert_eq!(board.update(vec![head("help")]), vec![head("help")]);
        assert_eq!(board.update(vec![head("help")]), vec![]);
        assert_eq!(
            board.update(vec![head("help"), head("food")]),
            vec![head("food")]
        );
        assert_eq!(board.len(), 2);
        // help stops holding, then comes back: raised again.
        assert_eq!(board.update(vec![head("food")]), vec![]);
        assert_eq!(
            board.update(vec![head("food"), head("help")]),
            vec![head("help")]
        );
        assert_eq!(board.update(Vec::new()), vec![]);
        assert!(board.is_empty());
    }

    #[test]
    fn a_changed_text_is_not_news_but_another_applet_is() {
        let mut board = NoticeBoard::default();
        board.update(vec![head("help")]);
        let (applet, mut reworded) = head("help");
        reworded.text = "your turn at help".into();
        assert_eq!(board.update(vec![(applet, reworded)]), vec![]);
        let (_, same) = head("help");
        assert_eq!(
            board.update(vec![head("help"), ("other", same.clone())]),
            vec![("other", same)]
        );
    }

    #[test]
    fn one_notice_given_twice_in_one_look_is_raised_once() {
        let mut board = NoticeBoard::default();
        assert_eq!(
            board.update(vec![head("help"), head("help")]),
            vec![head("help")]
        );
    }
}
