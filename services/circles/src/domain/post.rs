//! Posts in a circle (stream type `post`) and moments to friends (stream type `moment`).
//! Each is written once; a moment's fan-out to timelines happens in the fan-out consumer.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{CircleError, circle::Circle, events as pb, text::Content};

event_enum! {
    pub enum PostEvent {
        Published(pb::PostPublished),
    }
}

event_enum! {
    pub enum MomentEvent {
        Posted(pb::MomentPosted),
    }
}

#[derive(Clone, Debug)]
pub struct PublishPost {
    pub post_id: Uuid,
    pub circle: Circle,
    pub author: Uuid,
    /// Whether the author is a member of the circle (read under the circle's share lock).
    pub author_is_member: bool,
    pub content: Content,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Post {
    pub published: bool,
}

impl Aggregate for Post {
    const STREAM_TYPE: &'static str = "post";
    type Event = PostEvent;
    type Command = PublishPost;
    type Error = CircleError;

    fn handle(&self, cmd: PublishPost) -> Result<Vec<PostEvent>, CircleError> {
        let circle_id = cmd.circle.require_active()?;
        if !cmd.author_is_member {
            return Err(CircleError::NotAMember);
        }
        if self.published {
            return Err(CircleError::PostExists);
        }
        Ok(vec![PostEvent::Published(pb::PostPublished {
            post_id: cmd.post_id.to_string(),
            circle_id: circle_id.to_string(),
            author_id: cmd.author.to_string(),
            text: cmd.content.text.as_str().into(),
            card: cmd.content.card.map(|c| c.to_proto()),
        })])
    }

    fn apply(&mut self, _event: &PostEvent) {
        self.published = true;
    }
}

#[derive(Clone, Debug)]
pub struct PostMoment {
    pub moment_id: Uuid,
    pub author: Uuid,
    pub content: Content,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Moment {
    pub posted: bool,
}

impl Aggregate for Moment {
    const STREAM_TYPE: &'static str = "moment";
    type Event = MomentEvent;
    type Command = PostMoment;
    type Error = CircleError;

    fn handle(&self, cmd: PostMoment) -> Result<Vec<MomentEvent>, CircleError> {
        if self.posted {
            return Err(CircleError::PostExists);
        }
        Ok(vec![MomentEvent::Posted(pb::MomentPosted {
            moment_id: cmd.moment_id.to_string(),
            author_id: cmd.author.to_string(),
            text: cmd.content.text.as_str().into(),
            card: cmd.content.card.map(|c| c.to_proto()),
        })])
    }

    fn apply(&mut self, _event: &MomentEvent) {
        self.posted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::PostText;

    #[test]
    fn only_members_post_and_only_into_live_circles() {
        let content = Content { text: PostText::parse("hi").unwrap(), card: None };
        let cmd = |circle: Circle, member| PublishPost {
            post_id: Uuid::now_v7(),
            circle,
            author: Uuid::now_v7(),
            author_is_member: member,
            content: content.clone(),
        };
        let live = Circle { id: Some(Uuid::now_v7()), ..Default::default() };
        assert_eq!(Post::default().handle(cmd(live.clone(), false)), Err(CircleError::NotAMember));
        assert_eq!(Post::default().handle(cmd(live.clone(), true)).unwrap().len(), 1);
        assert_eq!(Post::default().handle(cmd(Circle::default(), true)), Err(CircleError::CircleNotFound));
        let dissolved = Circle { dissolved: true, ..live };
        assert_eq!(Post::default().handle(cmd(dissolved, true)), Err(CircleError::Dissolved));
    }
}
