//! Generated protobuf types and gRPC stubs for every tuan API and event.
//!
//! Modules follow the protobuf packages: `tuan_proto::users::v1` is `tuan.users.v1`.

/// The encoded `FileDescriptorSet` of every tuan proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("tuan_descriptor");

pub mod common {
    pub mod v1 {
        tonic::include_proto!("tuan.common.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("tuan.events.v1");
    }
}

pub mod users {
    pub mod v1 {
        tonic::include_proto!("tuan.users.v1");
    }
}

pub mod groupbuy {
    pub mod v1 {
        tonic::include_proto!("tuan.groupbuy.v1");
    }
}

pub mod payments {
    pub mod v1 {
        tonic::include_proto!("tuan.payments.v1");
    }
}

pub mod circles {
    pub mod v1 {
        tonic::include_proto!("tuan.circles.v1");
    }
}

pub mod admin {
    pub mod v1 {
        tonic::include_proto!("tuan.admin.v1");
    }
}

pub mod gateway {
    pub mod v1 {
        tonic::include_proto!("tuan.gateway.v1");
    }
}
